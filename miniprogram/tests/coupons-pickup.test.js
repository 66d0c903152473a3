/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { couponText } = require('../utils/coupon')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (status, code, message_zh) => ({ statusCode: status, data: { ok: false, error: { code, message: code, message_zh, details: {} } } })
const action = (o) => o.url.split('/api/')[1]

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

function fakeShop(handlers, extra) {
  return createWx(Object.assign({ request: (o) => {
    const h = handlers[action(o)]
    if (!h) return fail(404, 'UNKNOWN_ACTION', '未知的操作')
    return h(o.data, o)
  } }, extra))
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

const CART = { items: [{ sku_id: 'sku_1', title: '脐橙', price: 3990, quantity: 3, selected: true, valid: true, specs: {} }] }
const MINE = { items: [
  { id: 'uc_1', coupon_id: 'cpn_1', name: '满99减10', kind: 'fixed', amount: 1000, threshold: 9900, status: 'available' },
  { id: 'uc_2', coupon_id: 'cpn_2', name: '大额券', kind: 'fixed', amount: 5000, threshold: 50000, status: 'available' },
  { id: 'uc_3', coupon_id: 'cpn_3', name: '折扣券', kind: 'percent', percent: 15, cap: 2000, threshold: 0, status: 'available' }
] }

test('coupon text', () => {
  expect(couponText({ kind: 'fixed', amount: 1000, threshold: 9900 })).toBe('满99减10')
  expect(couponText({ kind: 'percent', percent: 15, cap: 2000, threshold: 5000 })).toBe('满50享8.5折(最高减20)')
  expect(couponText({ kind: 'fixed', amount: 550, threshold: 0 })).toBe('无门槛减5.5')
})

const CENTER = 'packages/member/pages/center/center'

test('coupon centre: lists templates, claims one, and stops at the per-user limit', async () => {
  global.wx = fakeShop({
    list_coupons: () => ok({ items: [
      { id: 'cpn_1', name: '满99减10', kind: 'fixed', amount: 1000, threshold: 9900, remaining: 5, per_user_limit: 1, claimed_by_me: 0, valid_days: 30 },
      { id: 'cpn_2', name: '抢光了', kind: 'fixed', amount: 500, threshold: 0, remaining: 0, per_user_limit: 2, claimed_by_me: 0 }
    ], page: 1, pages: 1 }),
    claim_coupon: (d) => ok({ id: 'uc_9', coupon_id: d.coupon_id, status: 'available' })
  })
  const page = createPage(CENTER)
  await page.onLoad()
  expect(page.data.items.map((c) => [c.text, c.canClaim, c.buttonText])).toEqual([
    ['满99减10', true, '立即领取'], ['无门槛减5', false, '已抢光']
  ])
  const mine = await page.claim({ currentTarget: { dataset: { id: 'cpn_1' } } })
  expect(mine.id).toBe('uc_9')
  expect(sent('claim_coupon')).toEqual([{ coupon_id: 'cpn_1' }])
  expect(wx.named('showToast').pop().title).toBe('领取成功')
  expect(page.data.items[0]).toMatchObject({ claimedByMe: 1, remaining: 4, canClaim: false, buttonText: '已领取' })
  expect(await page.claim({ currentTarget: { dataset: { id: 'cpn_1' } } })).toBeNull()
  expect(await page.claim({ currentTarget: { dataset: { id: 'cpn_2' } } })).toBeNull()
  expect(sent('claim_coupon')).toHaveLength(1)
  expect(page.data.claiming).toBe('')
})

test('coupon centre: a refused claim shows the Chinese message; empty and error states', async () => {
  global.wx = fakeShop({
    list_coupons: () => ok({ items: [{ id: 'cpn_1', name: 'x', kind: 'fixed', amount: 100, remaining: 3, per_user_limit: 1 }], page: 1, pages: 1 }),
    claim_coupon: () => fail(429, 'RATE_LIMITED', '领券太频繁，请稍后再试')
  })
  let page = createPage(CENTER)
  await page.onLoad()
  expect(await page.claim({ currentTarget: { dataset: { id: 'cpn_1' } } })).toBeNull()
  expect(wx.named('showToast').pop().title).toBe('领券太频繁，请稍后再试')
  expect(page.data.items[0].canClaim).toBe(true)

  global.wx = fakeShop({ list_coupons: () => ok({ items: [], page: 1, pages: 0 }) })
  page = createPage(CENTER)
  await page.onLoad()
  expect(page.data.empty).toBe(true)

  global.wx = fakeShop({ list_coupons: () => fail(500, 'INTERNAL') })
  page = createPage(CENTER)
  await page.onLoad()
  expect(page.data.error).toBe('服务器开小差了，请稍后再试')
})

const CHECKOUT = 'packages/order/pages/checkout/checkout'

test('checkout offers the coupons that fit the total and sends the chosen one as coupon_id', async () => {
  global.wx = fakeShop({
    cart_list: () => ok(CART),
    list_addresses: () => ok({ items: [{ id: 'adr_1', is_default: true }] }),
    list_my_coupons: () => ok(MINE),
    place_order: () => ok({ id: 'ord_1' })
  })
  const page = createPage(CHECKOUT)
  await page.onLoad({})
  expect(sent('list_my_coupons')).toEqual([{ status: 'available' }])
  expect(page.data.coupons.map((c) => c.id)).toEqual(['uc_1', 'uc_3'])   // 119.70: not the 500 one
  page.chooseCoupon({ currentTarget: { dataset: { id: 'uc_1' } } })
  expect(page.data.couponText).toBe('满99减10 满99减10')
  page.chooseCoupon({ currentTarget: { dataset: { id: 'uc_1' } } })   // tap again: no coupon
  expect(page.data.couponId).toBe('')
  page.chooseCoupon({ currentTarget: { dataset: { id: 'uc_3' } } })
  await page.submit()
  expect(sent('place_order')[0]).toMatchObject({ from_cart: true, address_id: 'adr_1', coupon_id: 'uc_3' })
})

test('checkout without a coupon sends none; a refused coupon shows the Chinese message', async () => {
  let n = 0
  global.wx = fakeShop({
    cart_list: () => ok(CART),
    list_addresses: () => ok({ items: [{ id: 'adr_1' }] }),
    list_my_coupons: () => ok(MINE),
    place_order: () => (++n === 1 ? fail(409, 'COUPON_UNAVAILABLE') : ok({ id: 'ord_1' }))
  })
  const page = createPage(CHECKOUT)
  await page.onLoad({})
  page.chooseCoupon({ currentTarget: { dataset: { id: 'uc_1' } } })
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast').pop().title).toBe('优惠券不可用')
  page.chooseCoupon({ currentTarget: { dataset: { id: '' } } })
  await page.submit()
  expect(sent('place_order')[1].coupon_id).toBeUndefined()
})

const STORES = { items: [
  { id: 'sto_a', name: '陆家嘴店', address: '世纪大道1号', distance_m: 420 },
  { id: 'sto_b', name: '静安店', address: '南京西路2号', distance_m: 5300 }
], page: 1, pages: 1 }

test('self-pickup: checkout lists nearby stores and places the order with store_id instead of address_id', async () => {
  global.wx = fakeShop({
    cart_list: () => ok(CART),
    list_addresses: () => ok({ items: [] }),
    list_my_coupons: () => ok({ items: [] }),
    nearby_stores: () => ok(STORES),
    place_order: () => ok({ id: 'ord_9', pickup: { code: '12345678' } })
  }, { location: { latitude: 31.24, longitude: 121.5 } })
  const page = createPage(CHECKOUT)
  await page.onLoad({})
  expect(page.data.delivery).toBe('express')
  await page.chooseDelivery({ currentTarget: { dataset: { delivery: 'pickup' } } })
  expect(wx.named('getLocation')[0].type).toBe('gcj02')
  expect(sent('nearby_stores')[0]).toMatchObject({ lat: 31.24, lng: 121.5 })
  expect(page.data.stores.map((s) => s.distance)).toEqual(['420m', '5.3km'])
  expect(page.data.store.id).toBe('sto_a')   // nearest first
  page.chooseStore({ currentTarget: { dataset: { id: 'sto_b' } } })
  const order = await page.submit()   // no address needed for pickup
  expect(order.id).toBe('ord_9')
  const placed = sent('place_order')[0]
  expect(placed).toMatchObject({ from_cart: true, store_id: 'sto_b' })
  expect(placed.address_id).toBeUndefined()
  // back to delivery: the address is needed again
  await page.chooseDelivery({ currentTarget: { dataset: { delivery: 'express' } } })
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast').pop().title).toBe('请先填写收货地址')
})

test('self-pickup: a store passed in preselects it; no store or a failed search is said plainly', async () => {
  global.wx = fakeShop({
    cart_list: () => ok(CART), list_addresses: () => ok({ items: [] }), list_my_coupons: () => ok({ items: [] }),
    nearby_stores: () => ok(STORES)
  })
  let page = createPage(CHECKOUT)
  await page.onLoad({ store_id: 'sto_b' })
  expect(page.data.delivery).toBe('pickup')
  expect(page.data.locationFallback).toBe(true)   // declined location: the city-centre fallback
  expect(page.data.store.id).toBe('sto_b')

  global.wx = fakeShop({
    cart_list: () => ok(CART), list_addresses: () => ok({ items: [] }), list_my_coupons: () => ok({ items: [] }),
    nearby_stores: () => ok({ items: [], page: 1, pages: 0 })
  })
  page = createPage(CHECKOUT)
  await page.onLoad({})
  await page.chooseDelivery({ currentTarget: { dataset: { delivery: 'pickup' } } })
  expect(page.data.stores).toEqual([])
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast').pop().title).toBe('请选择自提门店')

  global.wx = fakeShop({
    cart_list: () => ok(CART), list_addresses: () => ok({ items: [] }), list_my_coupons: () => ok({ items: [] }),
    nearby_stores: () => fail(500, 'INTERNAL')
  })
  page = createPage(CHECKOUT)
  await page.onLoad({})
  await page.chooseDelivery({ currentTarget: { dataset: { delivery: 'pickup' } } })
  expect(page.data.storesLoading).toBe(false)
  expect(page.data.storesError).toBe('服务器开小差了，请稍后再试')
})

test('nearby stores: picking a store starts a self-pickup checkout from the cart', async () => {
  global.wx = fakeShop({ nearby_stores: () => ok(STORES) })
  const page = createPage('packages/nearby/pages/stores/stores')
  await page.onLoad()
  page.pickup({ currentTarget: { dataset: { id: 'sto_a' } } })
  expect(wx.named('navigateTo')[0].url).toBe('/packages/order/pages/checkout/checkout?store_id=sto_a')
})

test('a nearby deal bought for pickup sends its deal_id, so the server charges the deal price', async () => {
  global.wx = fakeShop({
    list_addresses: () => ok({ items: [] }),
    list_my_coupons: () => ok({ items: [] }),
    nearby_stores: () => ok(STORES),
    place_order: () => ok({ id: 'ord_deal', pickup: { code: '87654321' } })
  }, { location: { latitude: 31.24, longitude: 121.5 } })
  const page = createPage(CHECKOUT)
  await page.onLoad({ sku_id: 'sku_3', quantity: '1', store_id: 'sto_b', deal_id: 'deal_7' })
  expect(page.data.delivery).toBe('pickup')
  const order = await page.submit()
  expect(order.id).toBe('ord_deal')
  expect(sent('place_order')[0]).toMatchObject({
    deal_id: 'deal_7', store_id: 'sto_b', items: [{ sku_id: 'sku_3', quantity: 1 }] })
})
