/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (status, code, message_zh) => ({ statusCode: status, data: { ok: false, error: { code, message: code, message_zh, details: {} } } })
const action = (o) => o.url.split('/api/')[1]
const STORE = 'packages/nearby/pages/store/store'

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

function fakeShop(handlers, extra) {
  const w = createWx(Object.assign({ request: (o) => {
    const h = handlers[action(o)]
    if (!h) return fail(404, 'UNKNOWN_ACTION', '未知的操作')
    return h(o.data, o)
  } }, extra))
  w.makePhoneCall = (o) => w.calls.push({ name: 'makePhoneCall', arg: o })
  w.openLocation = (o) => w.calls.push({ name: 'openLocation', arg: o })
  return w
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

const S1 = { id: 'sto_1', name: '陆家嘴店', address: '世纪大道1号', lat: 31.2396, lng: 121.5025, phone: '021-12345678', hours: '09:00-21:00', open_now: true, distance_m: 0 }
const S2 = { id: 'sto_2', name: '隔壁店', address: '世纪大道2号', lat: 31.2397, lng: 121.5026, phone: '', hours: '10:00-20:00', open_now: false, distance_m: 14 }
const deal = (id, store, sku) => ({ id, sku_id: sku, store, product: { id: 'p_' + id, title: '商品' + id }, deal_price: 990, original_price: 1990, remaining_today: 5, distance_m: 0 })
const DEALS = { items: [deal('d1', S1, 'sku_1'), deal('d2', S2, 'sku_2'), deal('d3', S1, 'sku_3'), deal('d4', null, 'sku_4')], page: 1, pages: 1 }
const tap = (id) => ({ currentTarget: { dataset: { id } } })

test('store page: loads the store at its coordinates and keeps only its deals', async () => {
  global.wx = fakeShop({ nearby_stores: () => ok({ items: [S1, S2], page: 1, pages: 1 }), nearby_deals: () => ok(DEALS) })
  const page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1', lat: '31.2396', lng: '121.5025', distance_m: '1234' })
  expect(sent('nearby_deals')[0]).toMatchObject({ lat: 31.2396, lng: 121.5025, radius_m: 100 })
  expect(sent('nearby_stores')[0]).toMatchObject({ lat: 31.2396, lng: 121.5025, radius_m: 100 })
  expect(page.data).toMatchObject({ loading: false, error: '', distance: '1.2km' })
  expect(page.data.store.name).toBe('陆家嘴店')
  expect(page.data.deals.map((d) => d.id)).toEqual(['d1', 'd3'])
})

test('store page: phone, navigation, 去自提 and 购物车到店自提', async () => {
  global.wx = fakeShop({ nearby_stores: () => ok({ items: [S1], page: 1, pages: 1 }), nearby_deals: () => ok(DEALS) })
  const page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1', lat: '31.2396', lng: '121.5025' })
  expect(page.data.distance).toBe('')
  page.call()
  expect(wx.named('makePhoneCall')).toEqual([{ phoneNumber: '021-12345678' }])
  page.navigate()
  expect(wx.named('openLocation')).toEqual([{ latitude: 31.2396, longitude: 121.5025, name: '陆家嘴店', address: '世纪大道1号' }])
  page.pickupDeal(tap('d3'))
  expect(wx.named('navigateTo').pop().url).toBe('/packages/order/pages/checkout/checkout?sku_id=sku_3&quantity=1&store_id=sto_1&deal_id=d3')
  page.pickupCart()
  expect(wx.named('navigateTo').pop().url).toBe('/packages/order/pages/checkout/checkout?store_id=sto_1')
})

test('store page: without coordinates it finds the store around the shopper', async () => {
  global.wx = fakeShop({ nearby_stores: () => ok({ items: [Object.assign({}, S1, { distance_m: 850 })], page: 1, pages: 1 }), nearby_deals: () => ok({ items: [], page: 1, pages: 0 }) },
    { location: { latitude: 31.23, longitude: 121.49 } })
  const page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1' })
  expect(sent('nearby_stores')[0]).toMatchObject({ lat: 31.23, lng: 121.49 })
  expect(sent('nearby_deals')[0]).toMatchObject({ lat: 31.2396, lng: 121.5025, radius_m: 100 })
  expect(page.data).toMatchObject({ distance: '850m', deals: [], loading: false, error: '' })
})

test('store page: error, unknown store and retry', async () => {
  global.wx = fakeShop({ nearby_stores: () => fail(500, 'INTERNAL') })
  let page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1', lat: '31.2396', lng: '121.5025' })
  expect(page.data.error).toBe('服务器开小差了，请稍后再试')
  expect(page.data.store).toBeNull()

  global.wx = fakeShop({ nearby_stores: () => ok({ items: [S2], page: 1, pages: 1 }) })
  page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1', lat: '31.2396', lng: '121.5025' })
  expect(page.data.error).toBe('没有找到这家门店')

  let deals = () => fail(500, 'INTERNAL')
  global.wx = fakeShop({ nearby_stores: () => ok({ items: [S1], page: 1, pages: 1 }), nearby_deals: () => deals() })
  page = createPage(STORE)
  await page.onLoad({ store_id: 'sto_1', lat: '31.2396', lng: '121.5025' })
  expect(page.data.store.id).toBe('sto_1')
  expect(page.data.dealsError).toBe('服务器开小差了，请稍后再试')
  deals = () => ok(DEALS)
  await page.onRetry()
  expect(page.data.dealsError).toBe('')
  expect(page.data.deals.map((d) => d.id)).toEqual(['d1', 'd3'])
})

test('store list links each store to its page', async () => {
  global.wx = fakeShop({ nearby_stores: () => ok({ items: [S2], page: 1, pages: 1 }) }, { location: { latitude: 31.23, longitude: 121.49 } })
  const page = createPage('packages/nearby/pages/stores/stores')
  await page.onLoad()
  page.open(tap('sto_2'))
  expect(wx.named('navigateTo').pop().url).toBe('/packages/nearby/pages/store/store?store_id=sto_2&lat=31.2397&lng=121.5026&distance_m=14')
})
