/** @jest-environment jsdom */
// Render tests of the order subpackage: checkout, order list, after-sale apply / list / detail.
const { openPage, texts } = require('./helpers/render-page')
const { backend, DEMO } = require('./helpers/answers')

test('checkout: the address, each line with its price, the total and the submit button', async () => {
  const comp = await openPage('packages/order/pages/checkout/checkout', { from: 'cart' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('张三 13800000000')
  expect(text).toContain('世纪大道1号')
  expect(text).toContain('赣南脐橙5斤装 ¥39.90× 2')
  // the server's price before paying (preview_order): goods, freight, payable
  expect(text).toContain('商品金额¥79.80')
  expect(text).toContain('实付款¥79.80')
  expect(texts(comp, 'wx-button')).toContain('提交订单')
})

test('order list: the status tabs and an order with its status, line and amount paid', async () => {
  const comp = await openPage('packages/order/pages/list/list', {}, { request: backend() })
  const text = comp.dom.textContent
  for (const tab of ['全部', '待付款', '待发货', '待收货', '已完成']) expect(text).toContain(tab)
  expect(text).toContain('赣南脐橙 × 2')
  expect(text).toContain('实付 ¥79.80')
})

test('after-sale apply: a delivered order\'s lines to pick', async () => {
  const order = Object.assign({}, DEMO.get_order, { status: 'completed' })
  const comp = await openPage('packages/order/pages/aftersale/aftersale', { order_id: order.id }, { request: backend({ get_order: order }) })
  const text = comp.dom.textContent
  expect(text).not.toContain('不能申请售后')
  expect(text).toContain('赣南脐橙')
  expect(texts(comp, 'wx-button').join(' ')).toMatch(/提交/)
})

test('after-sale list: each request with its type, status in Chinese and amount', async () => {
  const comp = await openPage('packages/order/pages/aftersale-list/aftersale-list', {}, { request: backend() })
  const rows = texts(comp, '.main--section')
  expect(rows[0]).toContain('仅退款')
  expect(rows[0]).toContain('待审核')
  expect(rows[0]).toContain('¥39.90')
})

test('after-sale detail: status, lines, amount and the return shipment form', async () => {
  const comp = await openPage('packages/order/pages/aftersale-detail/aftersale-detail', { id: 'as_1' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('待寄回')
  expect(text).toContain('退货退款')
  expect(text).toContain('退款金额¥39.90')
  expect(texts(comp, 'wx-button')).toContain('提交物流')
})
