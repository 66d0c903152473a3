/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

function fakeShop(handlers) {
  return createWx({ request: (o) => {
    const h = handlers[action(o)]
    if (!h) return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION', message_zh: '未知的操作' } } }
    return h(o.data, o)
  } })
}

const CART = { items: [
  { sku_id: 'sku_1', title: '脐橙', price: 3990, quantity: 2, selected: true, valid: true, specs: {} },
  { sku_id: 'sku_2', title: '草莓', price: 8900, quantity: 1, selected: false, valid: true, specs: {} }
], selected_count: 1, selected_total: 7980 }

test('checkout from the cart places the order and opens its detail', async () => {
  global.wx = fakeShop({
    cart_list: () => ok(CART),
    list_addresses: () => ok({ items: [{ id: 'adr_1', name: '张三', is_default: true }] }),
    place_order: (d) => ok({ id: 'ord_42', status: 'pending_payment', total: 7980 })
  })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ from: 'cart' })
  expect(page.data.error).toBe('')
  expect(page.data.lines.map((l) => l.sku_id)).toEqual(['sku_1'])
  expect(page.data.goodsTotal).toBe(7980)
  expect(page.data.address.id).toBe('adr_1')

  const order = await page.submit()
  expect(order.id).toBe('ord_42')
  const placed = wx.named('request').find((r) => action(r) === 'place_order').data
  expect(placed).toMatchObject({ from_cart: true, address_id: 'adr_1' })
  expect(placed.request_id.length).toBeGreaterThanOrEqual(8)
  expect(wx.named('redirectTo')[0].url).toBe('/packages/order/pages/detail/detail?id=ord_42')
})

test('buy now sends the SKU; a refused order shows the Chinese message and keeps the request id', async () => {
  let n = 0
  global.wx = fakeShop({
    list_addresses: () => ok({ items: [{ id: 'adr_9', name: '李四' }] }),
    place_order: () => (++n === 1
      ? { statusCode: 409, data: { ok: false, error: { code: 'OUT_OF_STOCK', message: 'out of stock', message_zh: '库存不足', details: {} } } }
      : ok({ id: 'ord_7' }))
  })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ sku_id: 'sku_5', quantity: '3' })
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast')[0].title).toBe('库存不足')
  expect(page.data.submitting).toBe(false)
  await page.submit()
  const placed = wx.named('request').filter((r) => action(r) === 'place_order').map((r) => r.data)
  expect(placed[0]).toMatchObject({ items: [{ sku_id: 'sku_5', quantity: 3 }], address_id: 'adr_9' })
  expect(placed[1].request_id).toBe(placed[0].request_id)   // idempotent retry
})

test('without an address the page asks for one before placing', async () => {
  global.wx = fakeShop({
    cart_list: () => ok(CART),
    list_addresses: () => ok({ items: [] }),
    add_address: (d) => ok(Object.assign({ id: 'adr_new' }, d))
  })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({})
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast')[0].title).toBe('请先填写收货地址')
  page.setData({ addressForm: { name: '王五', phone: '13800000000', province: '上海市', city: '上海市', district: '浦东新区', detail: '1号' } })
  expect((await page.saveAddress()).id).toBe('adr_new')
  expect(page.data.address.id).toBe('adr_new')
})

test('a page shows the error state when loading fails', async () => {
  global.wx = fakeShop({ cart_list: () => { throw new Error('down') }, list_addresses: () => ok({ items: [] }) })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({})
  expect(page.data.loading).toBe(false)
  expect(page.data.error).toBe('网络不给力，请检查网络后重试')
})

test('nearby stores fall back to a default location when the user declines', async () => {
  global.wx = fakeShop({ nearby_stores: (d) => ok({ items: [{ id: 's1', name: '店', distance_m: 1234 }], page: 1, pages: 1 }) })
  const page = createPage('packages/nearby/pages/stores/stores')
  await page.onLoad()
  expect(wx.named('getLocation')[0].type).toBe('gcj02')
  expect(page.data.fallback).toBe(true)
  expect(page.data.items[0].distance).toBe('1.2km')
  expect(page.data.noMore).toBe(true)
})

test('paging: the feed appends the next page and stops at the last', async () => {
  global.wx = fakeShop({
    list_categories: () => ok({ items: [] }),
    list_products: (d) => ok({ items: [{ id: 'p' + d.page }], page: d.page, pages: 2 })
  })
  const page = createPage('pages/index/index')
  await page.onLoad()
  expect(page.data.items.map((i) => i.id)).toEqual(['p1'])
  await page.onReachBottom()
  expect(page.data.items.map((i) => i.id)).toEqual(['p1', 'p2'])
  expect(page.data.noMore).toBe(true)
  await page.onReachBottom()
  expect(wx.named('request').filter((r) => action(r) === 'list_products')).toHaveLength(2)   // no request past the last page
})
