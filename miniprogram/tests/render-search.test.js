/** @jest-environment jsdom */
// Render test: the search page's real WXML (history, hot words, the sort tabs, product cards,
// the empty state) through miniprogram-simulate.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts, tap } = require('./helpers/render-page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })

test('search renders history and hot words, then sorted results as product cards', async () => {
  config.mode = 'gateway'
  installApp()
  let found = [{ id: 'p1', title: '丹东草莓', price: 1250, sales: 3, image: 'p1.png' }]
  global.wx = createWx({
    request: (o) => {
      const action = o.url.split('/api/')[1]
      if (action === 'hot_searches') return ok({ items: [], keywords: ['草莓', '苹果', '橙子', '香蕉'] })
      if (action === 'list_products') return ok({ items: found, total: found.length, page: 1, pages: found.length ? 1 : 0 })
      return ok({})
    }
  })
  wx.setStorageSync('search_history', ['牛奶'])
  const comp = renderPage('packages/search/pages/search/search')
  await comp.instance.onLoad({})
  await simulate.sleep(0)

  expect(texts(comp, '.main--block__title')).toEqual(['搜索历史', '热门搜索'])
  expect(texts(comp, '.main--history')).toEqual(['牛奶'])
  expect(texts(comp, '.main--hot')).toEqual(['草莓', '苹果', '橙子', '香蕉'])
  expect(comp.dom.querySelectorAll('.main--hot--top')).toHaveLength(3)

  // tapping a hot word searches it
  tap(comp.dom.querySelectorAll('.main--hot')[0])
  await simulate.sleep(0)
  await simulate.sleep(0)
  expect(comp.instance.data.keyword).toBe('草莓')
  expect(texts(comp, '.main--sort')).toEqual(['综合', '销量', '价格↕'])
  expect(texts(comp, '.main--sort--on')).toEqual(['综合'])
  const cards = comp.dom.querySelectorAll('.main--results product-card')
  expect(cards).toHaveLength(1)
  expect(cards[0].querySelector('price').textContent.trim()).toBe('¥12.50')

  tap(comp.dom.querySelectorAll('.main--sort')[2])
  await simulate.sleep(0)
  await simulate.sleep(0)
  expect(texts(comp, '.main--sort--on')).toEqual(['价格↑'])

  found = []
  await comp.instance.search('榴莲')
  await simulate.sleep(0)
  expect(texts(comp, 'empty-state').join(' ')).toContain('没有找到「榴莲」相关的商品')
})
