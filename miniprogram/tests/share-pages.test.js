/** @jest-environment node */
// Sharing from the pages a shopper shares most: home and category (onShareAppMessage), the
// product page (onShareTimeline with the product id in `query`, besides onShareAppMessage).
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

function shop(opts) {
  const o = opts || {}
  return createWx({
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'list_categories') return ok({ items: [{ id: 'c1', name: '水果' }, { id: 'c2', name: '蔬菜' }] })
      if (a === 'list_products') return ok({ items: [], total: 0, page: 1, pages: 0 })
      if (a === 'get_product') return ok({ id: 'prd_1', title: '赣南脐橙', images: ['https://img.test/1.png'], skus: [] })
      if (a === 'list_group_buys') return ok({ items: [] })
      if (a === 'create_share') return o.noCode ? { statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } } : ok({ share_id: 'shr_1', code: 'AB12' })
      if (a === 'track_events') return ok({ accepted: 1 })
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}
const flush = () => new Promise((r) => setTimeout(r, 0))

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('home shares the shop front page with a title', () => {
  global.wx = shop()
  const share = createPage('pages/index/index').onShareAppMessage()
  expect(share.path).toBe('/pages/index/index')
  expect(share.title).toMatch(/\S/)
})

test('category shares the category it shows, and a shared one opens on it', async () => {
  global.wx = shop()
  const page = createPage('pages/category/category')
  await page.onLoad({})
  await page.onSelect({ currentTarget: { dataset: { id: 'c2' } } })
  expect(page.onShareAppMessage()).toEqual({ title: '蔬菜 · 好物小店', path: '/pages/category/category?id=c2' })

  const opened = createPage('pages/category/category')
  await opened.onLoad({ id: 'c2' })
  expect(opened.data.current).toBe('c2')
  const asked = wx.named('request').filter((r) => action(r) === 'list_products').map((r) => r.data.category_id)
  expect(asked[asked.length - 1]).toBe('c2')
})

test('the product page shares to the timeline with the product id and the share code', async () => {
  global.wx = shop()
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_1' })
  await flush()
  expect(page.onShareTimeline()).toEqual({ title: '赣南脐橙', query: 'id=prd_1&s=AB12', imageUrl: 'https://img.test/1.png' })
  expect(page.onShareAppMessage().path).toBe('/pages/product/product?id=prd_1&s=AB12')
})

test('without a share code the timeline still carries the product id', async () => {
  global.wx = shop({ noCode: true })
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_1' })
  await flush()
  expect(page.onShareTimeline().query).toBe('id=prd_1')
})
