/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const PARAMS = { timeStamp: '1', nonceStr: 'n', package: 'prepay_id=wx1', signType: 'RSA', paySign: 's' }

function shop(payment, statuses) {
  return createWx({
    payment,
    request: (o) => {
      if (action(o) === 'pay_order') return ok(PARAMS)
      if (action(o) === 'get_order') return ok({ id: 'ord_1', status: statuses.length > 1 ? statuses.shift() : statuses[0], items: [] })
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('pay: pay_order params go to wx.requestPayment and the page shows the order paid', async () => {
  global.wx = shop('success', ['pending_payment', 'paid'])
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  expect(page.data.statusText).toBe('待付款')
  await wx.tap(page.pay)
  expect(wx.named('requestPayment')[0]).toMatchObject(PARAMS)
  expect(page.data.order.status).toBe('paid')
  expect(page.data.paying).toBe(false)
})

test('pay: a cancelled payment says so and leaves the order unpaid', async () => {
  global.wx = shop('cancel', ['pending_payment'])
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  await wx.tap(page.pay)
  expect(wx.named('showToast').pop().title).toBe('已取消支付')
  expect(page.data.order.status).toBe('pending_payment')
})

test('the sandbox button is only offered in gateway dev mode', () => {
  // the flag is read when the page module loads; config.js ships gateway + dev
  const page = createPage('packages/order/pages/detail/detail')
  expect(page.data.sandbox).toBe(config.mode === 'gateway' && config.dev)
})
