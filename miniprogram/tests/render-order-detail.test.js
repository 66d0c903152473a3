/** @jest-environment jsdom */
// Render test: the order detail page's real WXML with the real price / empty-state components.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

const ORDER = {
  id: 'ord_42', status: 'pending_payment', pay_deadline: '2099-01-01T04:30:00Z',
  items: [
    { sku_id: 'sku_a', title: '赣南脐橙', quantity: 2, subtotal: 7980 },
    { sku_id: 'sku_b', title: '阿克苏苹果', quantity: 1, subtotal: 2550 }
  ],
  goods_total: 10530, discount: 500, shipping_fee: 0, total: 10030,
  pickup: { code: '836214', store_name: '人民路店', store_address: '人民路 1 号' }
}

test('order detail renders status, items priced in yuan, the pickup card and 沙箱支付 in dev mode', async () => {
  config.mode = 'gateway'
  config.dev = true
  installApp()
  global.wx = createWx({
    request: (o) => o.url.endsWith('/api/get_order')
      ? { statusCode: 200, data: { ok: true, data: ORDER } }
      : { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  })
  const comp = renderPage('packages/order/pages/detail/detail')
  expect(comp.dom.textContent).toContain('加载中')

  await comp.instance.onLoad({ id: 'ord_42' })
  await simulate.sleep(0)
  const text = comp.dom.textContent
  expect(text).not.toContain('加载中')

  // status
  expect(texts(comp, '.main--status')[0]).toBe('待付款')
  expect(text).toContain('请在 2099-01-01 12:30 前完成支付')   // Beijing time
  expect(text).toMatch(/剩余支付时间 ?\d+:\d{2}:\d{2}/)   // the countdown

  // item lines, each with its subtotal rendered by the price component as yuan
  const rows = texts(comp, '.main--row')
  expect(rows).toContain('赣南脐橙 × 2¥79.80')
  expect(rows).toContain('阿克苏苹果 × 1¥25.50')
  expect(rows).toContain('商品金额¥105.30')
  expect(rows).toContain('优惠-¥5.00')
  expect(rows).toContain('实付¥100.30')
  const prices = Array.from(comp.dom.querySelectorAll('price wx-text'))
  expect(prices.map((n) => n.textContent)).toEqual(['¥79.80', '¥25.50', '¥105.30', '¥5.00', '¥0.00', '¥100.30'])
  expect(prices[prices.length - 1].className).toContain('price--lg')   // 实付 in the large size
  expect(text).toContain('订单号 ord_42')

  // pickup code card
  expect(texts(comp, '.main--pickup-code')[0]).toBe('836214')
  const pickup = texts(comp, '.main--pickup')[0]
  expect(pickup).toContain('到店自提')
  expect(pickup).toContain('到店出示自提码取货')
  expect(pickup).toContain('人民路店')
  expect(pickup).toContain('人民路 1 号')

  // bottom bar: the sandbox button is there because config ships gateway + dev
  const buttons = texts(comp, 'wx-button')
  expect(buttons).toEqual(['取消订单', '沙箱支付', '微信支付'])

  // once paid the pay buttons go and the after-sale entry shows
  comp.instance.show(Object.assign({}, ORDER, { status: 'paid' }))
  await simulate.sleep(0)
  expect(texts(comp, '.main--status')[0]).toBe('待发货')
  expect(texts(comp, 'wx-button')).toEqual(['申请售后'])
})
