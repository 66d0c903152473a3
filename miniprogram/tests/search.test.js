/** @jest-environment node */
// The search page's logic: history (most recent first, at most 10, clearable), hot words from
// hot_searches, results from list_products with keyword and sort, paging, and track.search.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const track = require('../services/track')

const ROUTE = 'packages/search/pages/search/search'
const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

function shop(opts) {
  const o = opts || {}
  return createWx({
    modalConfirm: o.modalConfirm,
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'hot_searches') return o.hotFails ? { statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } } : ok({ items: [], keywords: ['草莓', '苹果'] })
      if (a === 'list_products') {
        if (o.none) return ok({ items: [], total: 0, page: 1, pages: 0 })
        const page = r.data.page
        return ok({ items: [{ id: 'p' + page, title: '草莓' + page, price: 100 * page }], total: 2, page, pages: 2 })
      }
      if (a === 'track_events') return ok({ accepted: 1, duplicates: 0, tracking: true })
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

beforeEach(() => { config.mode = 'gateway'; installApp(); track.reset() })

test('the page opens with the hot words and this phone\'s history', async () => {
  global.wx = shop()
  wx.setStorageSync('search_history', ['面包', '牛奶'])
  const page = createPage(ROUTE)
  await page.onLoad({})
  expect(page.data.hot).toEqual(['草莓', '苹果'])
  expect(page.data.history).toEqual(['面包', '牛奶'])
  expect(page.data.searched).toBe(false)
  expect(sent('hot_searches')).toEqual([{ limit: 10 }])
})

test('a failing hot_searches leaves the page working without hot words', async () => {
  global.wx = shop({ hotFails: true })
  const page = createPage(ROUTE)
  await page.onLoad({})
  expect(page.data.hot).toEqual([])
  await page.search('草莓')
  expect(page.data.items).toHaveLength(1)
})

test('a search lists products by keyword, remembers it first, and is tracked', async () => {
  global.wx = shop()
  wx.setStorageSync('search_history', ['苹果', '草莓', '牛奶'])
  const page = createPage(ROUTE)
  await page.onLoad({})
  await page.search('  草莓 ')
  expect(sent('list_products')[0]).toEqual({ keyword: '草莓', sort: 'newest', page: 1, page_size: 10 })
  expect(page.data.items.map((p) => p.id)).toEqual(['p1'])
  expect(page.data.history).toEqual(['草莓', '苹果', '牛奶'])
  expect(wx.getStorageSync('search_history')).toEqual(['草莓', '苹果', '牛奶'])
  const tracked = track.pending().filter((e) => e.name === 'search')
  expect(tracked.map((e) => e.props)).toEqual([{ keyword: '草莓', results: 2 }])
})

test('history keeps at most 10, most recent first', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onLoad({})
  for (let i = 1; i <= 12; i++) await page.search('词' + i)
  expect(page.data.history).toHaveLength(10)
  expect(page.data.history[0]).toBe('词12')
  expect(page.data.history[9]).toBe('词3')
})

test('clearing the history asks first; cancel keeps it', async () => {
  global.wx = shop({ modalConfirm: false })
  wx.setStorageSync('search_history', ['牛奶'])
  const page = createPage(ROUTE)
  await page.onLoad({})
  expect(await page.clearHistory()).toBe(false)
  expect(page.data.history).toEqual(['牛奶'])
  global.wx = shop()
  wx.setStorageSync('search_history', ['牛奶'])
  const again = createPage(ROUTE)
  await again.onLoad({})
  expect(await again.clearHistory()).toBe(true)
  expect(again.data.history).toEqual([])
  expect(wx.getStorageSync('search_history')).toBe('')
})

test('the sorts: 销量, then 价格 up, then 价格 down, each from page 1', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onLoad({ keyword: encodeURIComponent('草莓') })
  const tap = (key) => page.onSort({ currentTarget: { dataset: { key } } })
  await tap('sales')
  await tap('price')
  await tap('price')
  await tap('newest')
  expect(sent('list_products').map((d) => [d.sort, d.page])).toEqual([
    ['newest', 1], ['sales', 1], ['price_asc', 1], ['price_desc', 1], ['newest', 1]])
})

test('scrolling to the bottom loads the next page, then stops', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onLoad({})
  await page.search('草莓')
  await page.onReachBottom()
  await page.onReachBottom()
  expect(page.data.items.map((p) => p.id)).toEqual(['p1', 'p2'])
  expect(page.data.noMore).toBe(true)
  expect(sent('list_products').map((d) => d.page)).toEqual([1, 2])
})

test('nothing found shows the empty state; a blank keyword is not searched', async () => {
  global.wx = shop({ none: true })
  const page = createPage(ROUTE)
  await page.onLoad({})
  await page.search('   ')
  expect(sent('list_products')).toHaveLength(0)
  expect(wx.named('showToast')[0].title).toBe('请输入搜索内容')
  await page.onConfirm({ detail: { value: '榴莲' } })
  expect(page.data.empty).toBe(true)
  expect(page.data.searched).toBe(true)
})

test('home has a search bar that opens the search page', () => {
  global.wx = shop()
  const home = createPage('pages/index/index')
  home.goSearch()
  expect(wx.named('navigateTo')[0].url).toBe('/packages/search/pages/search/search')
  const fs = require('fs')
  const path = require('path')
  const wxml = fs.readFileSync(path.join(__dirname, '..', 'pages/index/index.wxml'), 'utf8')
  expect(wxml).toMatch(/bindtap="goSearch"/)
})
