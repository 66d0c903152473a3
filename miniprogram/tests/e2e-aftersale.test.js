/** @jest-environment node */
// End to end against the real dev gateway (and its loopback S3): buy, pay in the sandbox, then
// the after-sale page uploads a photo to the presigned URL and requests a refund; the list and
// detail pages show it, and it can be cancelled.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')

const gateway = useGateway()

// a 1x1 PNG
const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64')).buffer

test('after-sale with a photo: presigned PUT, request, list, detail, cancel', async () => {
  const puts = []
  const request = async (o) => {
    const res = await realRequest(o)
    if (o.method === 'PUT') puts.push({ url: o.url, header: o.header, status: res.statusCode })
    return res
  }
  global.wx = createWx({ request, media: ['wxfile://tmp/proof.png'], files: { 'wxfile://tmp/proof.png': PNG } })
  installApp()
  await api.ensureLogin()

  // a paid order
  const feed = await api.call('list_products', { page: 1, page_size: 5 })
  const product = await api.call('get_product', { product_id: feed.items[0].id })
  const sku = product.skus.find((s) => s.stock > 0)
  const address = await api.call('add_address', { name: '张三', phone: '13800000000', province: '上海市', city: '上海市', district: '浦东新区', detail: '1号', is_default: true })
  const order = await api.call('place_order', { request_id: 'e2e-afs-' + Date.now(), items: [{ sku_id: sku.id, quantity: 1 }], address_id: address.id })
  await api.call('sandbox_pay', { order_id: order.id })

  // the detail page offers after-sales for the paid order
  const detail = createPage('packages/order/pages/detail/detail')
  await detail.onLoad({ id: order.id })
  expect(detail.data.order.status).toBe('paid')
  expect(detail.data.canAfterSale).toBe(true)

  const page = createPage('packages/order/pages/aftersale/aftersale')
  await page.onLoad({ order_id: order.id })
  expect(page.data.error).toBe('')
  expect(page.data.canReturn).toBe(false)   // not shipped yet
  await page.chooseImages()
  expect(wx.named('showToast')).toEqual([])
  expect(page.data.images).toHaveLength(1)
  const fileUrl = page.data.images[0].url
  // the bytes went to the presigned URL (the loopback S3 checks the signature) and were accepted
  expect(puts).toHaveLength(1)
  expect(puts[0].status).toBe(200)
  expect(puts[0].header).toEqual({ 'Content-Type': 'image/png' })
  expect(puts[0].url.indexOf(gateway.base)).toBe(-1)

  page.onReason({ detail: { value: '不想要了' } })
  const sale = await page.submit()
  expect(sale).toBeTruthy()
  expect(sale).toMatchObject({ order_id: order.id, type: 'refund_only', status: 'pending_review', images: [fileUrl] })

  const list = createPage('packages/order/pages/aftersale-list/aftersale-list')
  await list.onLoad()
  expect(list.data.items.map((s) => s.id)).toContain(sale.id)

  const view = createPage('packages/order/pages/aftersale-detail/aftersale-detail')
  await view.onLoad({ id: sale.id })
  expect(view.data.statusText).toBe('待审核')
  expect(view.data.canCancel).toBe(true)
  await view.cancel()
  expect(view.data.sale.status).toBe('cancelled')
  expect(view.data.statusText).toBe('已撤销')

  // a second request for the same order works again after cancelling; nonsense says so in Chinese
  const again = createPage('packages/order/pages/aftersale/aftersale')
  await again.onLoad({ order_id: 'ord_nope' })
  expect(again.data.error).toMatch(/[\u4e00-\u9fa5]/)
}, 90000)
