/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (status, code, message_zh) => ({ statusCode: status, data: { ok: false, error: { code, message: code, message_zh, details: {} } } })
const isApi = (o) => o.url.indexOf('/api/') >= 0
const action = (o) => o.url.split('/api/')[1]
const UPLOAD_HOST = 'https://cos.example.com/'

function order(status) {
  return { id: 'ord_1', status, items: [
    { sku_id: 'sku_1', title: '脐橙', quantity: 2, price: 3990, subtotal: 7980 },
    { sku_id: 'sku_2', title: '草莓', quantity: 1, price: 8900, subtotal: 8900 }
  ] }
}

// a fake shop + a fake object store behind the presigned URLs
function fakeShop(handlers, extra) {
  let n = 0
  const puts = []
  const wx = createWx(Object.assign({
    request: (o) => {
      if (!isApi(o)) {
        puts.push(o)
        return handlers.PUT ? handlers.PUT(o) : { statusCode: 200, data: '' }
      }
      const a = action(o)
      if (a === 'get_upload_url' && !handlers.get_upload_url) {
        n += 1
        return ok({ upload_url: UPLOAD_HOST + 'k' + n + '?sig=x', method: 'PUT',
                    headers: { 'Content-Type': o.data.content_type }, key: 'k' + n,
                    file_url: 'https://cdn.example.com/k' + n, expires_in: 600 })
      }
      const h = handlers[a]
      if (!h) return fail(404, 'UNKNOWN_ACTION', '未知的操作')
      return h(o.data, o)
    }
  }, extra))
  wx.puts = puts
  return wx
}

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

const ROUTE = 'packages/order/pages/aftersale/aftersale'

test('return refund with photos: each image is uploaded to its presigned URL, then the request sends the file URLs', async () => {
  const bytesA = new ArrayBuffer(3)
  const bytesB = new ArrayBuffer(5)
  global.wx = fakeShop({
    get_order: () => ok(order('shipped')),
    request_after_sale: (d) => ok({ id: 'as_1', status: 'pending_review', type: d.type })
  }, { media: ['wxfile://tmp/a.jpg', 'wxfile://tmp/b.png'], files: { 'wxfile://tmp/a.jpg': bytesA, 'wxfile://tmp/b.png': bytesB } })
  const page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  expect(page.data.error).toBe('')
  expect(page.data.canReturn).toBe(true)
  expect(page.data.lines.map((l) => l.sku_id)).toEqual(['sku_1', 'sku_2'])

  page.chooseType({ currentTarget: { dataset: { type: 'return_refund' } } })
  page.toggleLine({ currentTarget: { dataset: { index: 0 } } })
  page.changeQty({ currentTarget: { dataset: { index: 0, delta: -1 } } })
  page.onReason({ detail: { value: '  收到时已损坏 ' } })
  await page.chooseImages()
  expect(wx.named('chooseMedia')[0]).toMatchObject({ count: 9, mediaType: ['image'] })

  const urlCalls = wx.named('request').filter((r) => isApi(r) && action(r) === 'get_upload_url').map((r) => r.data)
  expect(urlCalls.map((d) => d.content_type)).toEqual(['image/jpeg', 'image/png'])
  expect(urlCalls.map((d) => d.size)).toEqual([3, 5])   // signed into the URL as Content-Length
  expect(wx.puts).toHaveLength(2)
  expect(wx.puts[0]).toMatchObject({ url: UPLOAD_HOST + 'k1?sig=x', method: 'PUT', header: { 'Content-Type': 'image/jpeg' } })
  expect(wx.puts[0].data).toBe(bytesA)
  expect(wx.puts[1].data).toBe(bytesB)
  expect(wx.puts[0].header.Authorization).toBeUndefined()   // the shop token never goes to storage
  expect(page.data.uploading).toBe(false)

  const sale = await page.submit()
  expect(sale.id).toBe('as_1')
  const sent = wx.named('request').find((r) => isApi(r) && action(r) === 'request_after_sale').data
  expect(sent).toEqual({ order_id: 'ord_1', type: 'return_refund', reason: '收到时已损坏',
                         items: [{ sku_id: 'sku_1', quantity: 1 }],
                         images: ['https://cdn.example.com/k1', 'https://cdn.example.com/k2'] })
  expect(wx.named('redirectTo')[0].url).toBe('/packages/order/pages/aftersale-detail/aftersale-detail?id=as_1')
})

test('a paid (unshipped) order offers refund only, whole order, no images', async () => {
  global.wx = fakeShop({ get_order: () => ok(order('paid')), request_after_sale: () => ok({ id: 'as_2' }) })
  const page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  expect(page.data.canReturn).toBe(false)
  page.chooseType({ currentTarget: { dataset: { type: 'return_refund' } } })
  expect(page.data.type).toBe('refund_only')
  expect(wx.named('showToast')[0].title).toBe('订单发货后才能退货退款')
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast')[1].title).toBe('请填写售后原因')
  page.onReason({ detail: { value: '不想要了' } })
  await page.submit()
  const sent = wx.named('request').find((r) => action(r) === 'request_after_sale').data
  expect(sent).toEqual({ order_id: 'ord_1', type: 'refund_only', reason: '不想要了', images: [] })
})

test('a refused request shows the Chinese message and can be retried', async () => {
  global.wx = fakeShop({
    get_order: () => ok(order('completed')),
    request_after_sale: () => fail(409, 'INVALID_STATE', '已超过售后期限')
  })
  const page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  page.onReason({ detail: { value: '质量问题' } })
  expect(await page.submit()).toBeNull()
  expect(wx.named('showToast').pop().title).toBe('已超过售后期限')
  expect(page.data.submitting).toBe(false)
})

test('a failed upload says so in Chinese and keeps only the uploaded photos', async () => {
  let puts = 0
  global.wx = fakeShop({
    get_order: () => ok(order('shipped')),
    PUT: () => (++puts === 2 ? { statusCode: 403, data: '<Error>SignatureDoesNotMatch</Error>' } : { statusCode: 200, data: '' })
  }, { media: ['a.jpg', 'b.jpg', 'c.jpg'], files: { 'a.jpg': new ArrayBuffer(1), 'b.jpg': new ArrayBuffer(1), 'c.jpg': new ArrayBuffer(1) } })
  const page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  await page.chooseImages()
  expect(wx.named('showToast').pop().title).toBe('图片上传失败，请重试')
  expect(page.data.images.map((i) => i.url)).toEqual(['https://cdn.example.com/k1'])
  expect(page.data.uploading).toBe(false)
})

test('at most 9 photos: the picker asks only for what is left', async () => {
  global.wx = fakeShop({ get_order: () => ok(order('shipped')) })
  const page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  page.setData({ images: Array.from({ length: 7 }, (_, i) => ({ path: 'p' + i, url: 'u' + i })) })
  await page.chooseImages()
  expect(wx.named('chooseMedia')[0].count).toBe(2)
  page.setData({ images: Array.from({ length: 9 }, (_, i) => ({ path: 'p' + i, url: 'u' + i })) })
  await page.chooseImages()
  expect(wx.named('chooseMedia')).toHaveLength(1)
})

test('loading: an ineligible order and a failed load show the error state', async () => {
  global.wx = fakeShop({ get_order: () => ok(order('pending_payment')) })
  let page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_1' })
  expect(page.data.error).toBe('该订单当前不能申请售后')
  global.wx = fakeShop({ get_order: () => fail(404, 'NOT_FOUND', '订单不存在') })
  page = createPage(ROUTE)
  await page.onLoad({ order_id: 'ord_x' })
  expect(page.data.loading).toBe(false)
  expect(page.data.error).toBe('订单不存在')
})

test('after-sale list: paged, with status text; empty state', async () => {
  global.wx = fakeShop({ list_after_sales: (d) => ok({ items: [{ id: 'as_' + d.page, status: 'awaiting_return', type: 'return_refund', amount: 100 }], page: d.page, pages: 2 }) })
  const page = createPage('packages/order/pages/aftersale-list/aftersale-list')
  await page.onLoad()
  await page.onReachBottom()
  expect(page.data.items.map((i) => i.id)).toEqual(['as_1', 'as_2'])
  expect(page.data.items[0].statusText).toBe('待寄回')
  expect(page.data.noMore).toBe(true)
  global.wx = fakeShop({ list_after_sales: () => ok({ items: [], page: 1, pages: 0 }) })
  const empty = createPage('packages/order/pages/aftersale-list/aftersale-list')
  await empty.onLoad()
  expect(empty.data.empty).toBe(true)
})

test('after-sale detail: return shipment when awaiting return, then cancel is refused with a Chinese message', async () => {
  let sale = { id: 'as_1', order_id: 'ord_1', status: 'awaiting_return', type: 'return_refund', items: [], amount: 3990, reason: 'x', images: [] }
  global.wx = fakeShop({
    get_after_sale: () => ok(sale),
    submit_return_shipment: (d) => { sale = Object.assign({}, sale, { status: 'return_shipped', return_shipment: { carrier: d.carrier, tracking_no: d.tracking_no } }); return ok(sale) },
    cancel_after_sale: () => fail(409, 'INVALID_STATE', '当前状态不允许撤销')
  })
  const page = createPage('packages/order/pages/aftersale-detail/aftersale-detail')
  await page.onLoad({ id: 'as_1' })
  expect(page.data.statusText).toBe('待寄回')
  expect(page.data.canCancel).toBe(true)
  expect(await page.submitShipment()).toBeNull()
  expect(wx.named('showToast')[0].title).toBe('请填写快递公司和单号')
  page.onCarrier({ detail: { value: '顺丰' } })
  page.onTracking({ detail: { value: 'SF123' } })
  await page.submitShipment()
  expect(wx.named('request').find((r) => action(r) === 'submit_return_shipment').data).toEqual({ after_sale_id: 'as_1', carrier: '顺丰', tracking_no: 'SF123' })
  expect(page.data.statusText).toBe('已寄回')
  expect(page.data.canCancel).toBe(false)
  await page.cancel()
  expect(wx.named('showToast').pop().title).toBe('当前状态不允许撤销')
  expect(page.data.busy).toBe(false)
})

test('order detail: after-sale entry for paid/shipped/completed, pickup code for self-pickup', async () => {
  const pickup = { store_id: 'sto_1', store_name: '陆家嘴店', store_address: '世纪大道1号', code: '12345678', picked_up_at: null }
  global.wx = fakeShop({ get_order: () => ok(Object.assign(order('paid'), { pickup })) })
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  expect(page.data.canAfterSale).toBe(true)
  expect(page.data.order.pickup.code).toBe('12345678')
  page.openAfterSale()
  expect(wx.named('navigateTo')[0].url).toBe('/packages/order/pages/aftersale/aftersale?order_id=ord_1')
  global.wx = fakeShop({ get_order: () => ok(order('pending_payment')) })
  const unpaid = createPage('packages/order/pages/detail/detail')
  await unpaid.onLoad({ id: 'ord_1' })
  expect(unpaid.data.canAfterSale).toBe(false)
})
