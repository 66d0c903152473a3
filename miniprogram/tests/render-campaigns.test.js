/** @jest-environment jsdom */
// Render test: the campaigns page's real WXML: tabs, each bargain's floor and price, empty tab.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

test('bargains show their floor price and the struck price; an empty assist tab says so', async () => {
  config.mode = 'gateway'; config.dev = true; installApp()
  global.wx = createWx({ request: (o) => {
    const name = o.url.split('/api/')[1]
    const items = name === 'list_bargains'
      ? [{ id: 'bgc_1', title: '好茶', image: 'https://img.test/t.png', price: 5000, floor_price: 100, helpers_needed: 5, ends_at: '2026-06-01T04:00:00Z' }]
      : []
    return { statusCode: 200, data: { ok: true, data: { items, page: 1, pages: items.length ? 1 : 0 } } }
  } })
  const comp = renderPage('packages/social/pages/campaigns/campaigns')
  await comp.instance.onLoad({})
  await simulate.sleep(0)
  expect(texts(comp, '.main--tab')).toEqual(['砍价免费拿', '好友助力'])
  const card = texts(comp, '.main--card')[0]
  expect(card).toContain('好茶')
  expect(card).toMatch(/最低 ?¥1\.00/)
  expect(card).toContain('¥50.00')
  expect(card).toContain('5 位好友帮砍')
  expect(card).toContain('2026-06-01 12:00 结束')

  await comp.instance.onTab({ currentTarget: { dataset: { key: 'assist' } } })
  await simulate.sleep(0)
  expect(comp.dom.textContent).toContain('暂时没有助力活动')
})
