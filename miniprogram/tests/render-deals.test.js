/** @jest-environment jsdom */
// Render test: nearby deals say "今日剩余 N" only for a deal with a daily limit.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

const deal = (id, remaining) => ({ id, deal_price: 990, distance_m: 320, remaining_today: remaining,
  product: { id: 'prd_' + id, title: '鲜牛奶 ' + id }, store: { id: 'st_1', name: '人民路店' } })

test('今日剩余 shows for limited deals only; a deal sold out today says so', async () => {
  config.mode = 'gateway'; config.dev = true; installApp()
  global.wx = createWx({
    location: { latitude: 31.23, longitude: 121.47 },
    request: () => ({ statusCode: 200, data: { ok: true, data: {
      items: [deal('a', null), deal('b', 5), deal('c', 0)], total: 3, page: 1, page_size: 10, pages: 1 } } })
  })
  const comp = renderPage('packages/nearby/pages/deals/deals')
  await comp.instance.onLoad({ kind: 'today_special' })
  await simulate.sleep(0)
  const lines = texts(comp, '.main--muted')
  expect(lines[0]).not.toContain('今日剩余')
  expect(lines[0]).not.toContain('null')
  expect(lines[1]).toContain('今日剩余 5')
  expect(lines[2]).toContain('今日已抢光')
})
