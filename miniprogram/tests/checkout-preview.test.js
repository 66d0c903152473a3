/** @jest-environment node */
// Checkout shows the server's price before paying (preview_order) and asks again when the
// coupon, points, address or quantity change; "buy now" shows the product, not a bare SKU id.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const action = (o) => o.url.split('/api/')[1]

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

const { shop } = require('./helpers/checkout-shop')

const previews = () => wx.named('request').filter((r) => action(r) === 'preview_order').map((r) => r.data)

test('buy now shows the product image, title, specs and price from the preview', async () => {
  global.wx = shop()
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ sku_id: 'sku_5', quantity: '1' })
  expect(previews()[0]).toEqual({ address_id: 'adr_1', items: [{ sku_id: 'sku_5', quantity: 1 }] })
  expect(previews()[0].request_id).toBeUndefined()
  expect(page.data.lines[0]).toMatchObject({ title: '赣南脐橙', image: 'https://img.test/o.png', price: 3990, specs: { 规格: '5斤装' } })
  expect(page.data.preview.payable).toBe(3990)
})

test('the preview is asked again on quantity, coupon, points and address changes', async () => {
  global.wx = shop()
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ sku_id: 'sku_5', quantity: '1' })

  await page.changeQuantity({ currentTarget: { dataset: { delta: 1 } } })
  expect(previews().pop().items[0].quantity).toBe(2)
  expect(page.data.preview.goods_total).toBe(7980)

  await page.chooseCoupon({ currentTarget: { dataset: { id: 'uc_1' } } })
  expect(previews().pop().coupon_id).toBe('uc_1')
  expect(page.data.preview.payable).toBe(7480)

  await page.togglePoints()
  expect(previews().pop().points).toBe(300)   // the balance, under the cap
  expect(page.data.preview.discounts.map((d) => d.kind)).toEqual(['coupon', 'points'])
  expect(page.data.preview.payable).toBe(7180)

  await page.chooseAddress({ currentTarget: { dataset: { id: 'adr_2' } } })
  expect(previews().pop().address_id).toBe('adr_2')

  await page.submit()
  const placed = wx.named('request').find((r) => action(r) === 'place_order').data
  expect(placed).toMatchObject({ address_id: 'adr_2', coupon_id: 'uc_1', points: 300, items: [{ sku_id: 'sku_5', quantity: 2 }] })
})

test('a refused preview says why in Chinese and checkout still works', async () => {
  global.wx = shop({ preview_order: () => ({ statusCode: 409, data: { ok: false, error: {
    code: 'OUT_OF_STOCK', message: 'only 0 left', message_zh: '库存不足', details: {} } } }) })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({})
  expect(page.data.preview).toBeNull()
  expect(page.data.previewError).toBe('库存不足')
})

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const { previewOf } = require('./helpers/checkout-shop')

test('points over a lowered cap are cut down to it and asked again', async () => {
  let calls = 0
  global.wx = shop({ preview_order: (d) => {
    calls += 1
    if (d.points > 100) return { statusCode: 409, data: { ok: false, error: { code: 'LIMIT_EXCEEDED', message: 'cap', details: { max_points: 100 } } } }
    return ok(Object.assign(previewOf(d), { points_max: 100 }))
  } })
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ sku_id: 'sku_5' })
  page.setData({ usePoints: true, points: 300 })
  await page.refreshPreview()
  expect(page.data.points).toBe(100)
  expect(page.data.preview.payable).toBe(3890)
  expect(calls).toBeLessThan(6)
})
