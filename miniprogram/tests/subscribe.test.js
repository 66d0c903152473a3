/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const { requestSubscribe } = require('../services/subscribe')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const ORDER = config.subscribeTemplates.order
const CART = config.subscribeTemplates.cart
const MEMBER = config.subscribeTemplates.member

// a shop that answers record_subscription, cart_list, get_order / pay_order / sandbox_pay
function shop(opts) {
  const o = opts || {}
  return createWx({
    subscribe: o.subscribe,
    payment: 'success',
    request: (r) => {
      const a = action(r)
      if (a === 'record_subscription') {
        if (o.recordFails) return { statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } }
        return ok({ accepted: r.data.template_ids.filter((t) => r.data.results[t] === 'accept'), remaining: {} })
      }
      if (a === 'cart_list') return ok({ items: o.cartItems || [], selected_count: 0, selected_total: 0 })
      if (a === 'pay_order') return ok({ timeStamp: '1', nonceStr: 'n', package: 'prepay_id=wx1', signType: 'RSA', paySign: 's' })
      if (a === 'sandbox_pay') return ok({ order: { id: 'ord_1', status: 'paid', items: [] } })
      if (a === 'get_order') return ok({ id: 'ord_1', status: o.paid ? 'paid' : 'pending_payment', items: [] })
      if (a === 'get_membership') return ok({ level: '普通会员', growth: 0, points: 0 })
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}
const recorded = () => wx.named('request').filter((r) => action(r) === 'record_subscription').map((r) => r.data)
const flush = () => new Promise((r) => setTimeout(r, 0))

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('placeholder template ids live in config.js, at most 3 per moment', () => {
  for (const ids of [ORDER, CART, MEMBER]) {
    expect(ids.length).toBeGreaterThan(0)
    expect(ids.length).toBeLessThanOrEqual(3)
  }
})

test('the answer is reported with record_subscription {template_ids, results}', async () => {
  global.wx = shop({ subscribe: { [ORDER[0]]: 'accept', [ORDER[1]]: 'reject' } })
  const res = await wx.tap(requestSubscribe, 'order')
  expect(wx.named('requestSubscribeMessage')[0].tmplIds).toEqual(ORDER)
  expect(recorded()).toEqual([{ template_ids: ORDER, results: { [ORDER[0]]: 'accept', [ORDER[1]]: 'reject' } }])
  expect(res.accepted).toEqual([ORDER[0]])
})

test('a declined (fail), throwing or missing request resolves to null and reports nothing', async () => {
  global.wx = shop({ subscribe: 'fail' })
  await expect(requestSubscribe('cart')).resolves.toBeNull()
  global.wx = shop({ subscribe: () => { throw new Error('boom') } })
  await expect(requestSubscribe('cart')).resolves.toBeNull()
  global.wx = shop({})
  delete wx.requestSubscribeMessage
  await expect(requestSubscribe('cart')).resolves.toBeNull()
  expect(recorded()).toEqual([])
  await expect(requestSubscribe('no-such-moment')).resolves.toBeNull()
})

test('a failing record_subscription never throws', async () => {
  global.wx = shop({ subscribe: { [CART[0]]: 'accept' }, recordFails: true })
  await expect(wx.tap(requestSubscribe, 'cart')).resolves.toBeNull()
  expect(recorded().length).toBe(1)
})

test('order detail asks for order templates on the pay tap, and a decline leaves the page paid', async () => {
  global.wx = shop({ subscribe: 'fail', paid: false })
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  expect(wx.named('requestSubscribeMessage')).toEqual([])
  await wx.tap(page.sandboxPay)
  await flush()
  expect(wx.refused).toEqual([]) // asked inside the tap, not after the sandbox_pay wait
  expect(wx.named('requestSubscribeMessage')[0].tmplIds).toEqual(ORDER)
  expect(page.data.order.status).toBe('paid')
  expect(page.data.paying).toBe(false)
  expect(wx.named('showToast').pop().title).toBe('沙箱支付成功')
})

test('order detail: wx.requestPayment success then subscribe accepted is recorded', async () => {
  global.wx = shop({ subscribe: { [ORDER[0]]: 'accept', [ORDER[1]]: 'accept' }, paid: true })
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  await wx.tap(page.pay)
  await flush()
  expect(wx.refused).toEqual([])
  expect(wx.named('requestPayment').length).toBe(1)
  expect(recorded()[0].template_ids).toEqual(ORDER)
  // the ask comes before the payment: its dialog never sits on top of the cashier
  const names = wx.calls.map((c) => c.name)
  expect(names.indexOf('requestSubscribeMessage')).toBeLessThan(names.indexOf('requestPayment'))
})

test('on a device an ask after a network wait is refused: the stricter double says so', async () => {
  global.wx = shop({ subscribe: { [ORDER[0]]: 'accept' } })
  const res = await wx.tap(async () => { await flush(); return requestSubscribe('order') })
  expect(res).toBeNull()
  expect(wx.refused.splice(0)).toEqual(['requestSubscribeMessage'])
  expect(recorded()).toEqual([])
})

test('outside develop a placeholder template id never reaches wx.requestSubscribeMessage', async () => {
  global.wx = shop({ subscribe: { [ORDER[0]]: 'accept' } })
  const saved = config.dev
  config.dev = false
  try {
    await expect(wx.tap(() => requestSubscribe('order'))).resolves.toBeNull()
    expect(wx.named('requestSubscribeMessage')).toEqual([])
  } finally { config.dev = saved }
})

test('the 结算 tap asks for the cart reminder; leaving the cart or an empty selection does not', async () => {
  global.wx = shop({ subscribe: { [CART[0]]: 'accept' }, cartItems: [{ sku_id: 'sku_1', quantity: 1, selected: true }] })
  const cart = createPage('pages/cart/cart')
  await cart.onShow()
  if (cart.onHide) cart.onHide() // a hide is no gesture: nothing may be asked there
  expect(wx.named('requestSubscribeMessage')).toEqual([])
  cart.setData({ selectedCount: 1 })
  wx.tap(cart.checkout)
  await flush(); await flush()
  expect(wx.refused).toEqual([])
  expect(wx.named('requestSubscribeMessage')[0].tmplIds).toEqual(CART)
  expect(recorded()).toEqual([{ template_ids: CART, results: { [CART[0]]: 'accept' } }])

  global.wx = shop({ subscribe: { [CART[0]]: 'accept' }, cartItems: [] })
  const empty = createPage('pages/cart/cart')
  await empty.onShow()
  wx.tap(empty.checkout)
  expect(wx.named('requestSubscribeMessage')).toEqual([])
})

test('the member page 订阅 button asks for member templates and says how it went', async () => {
  global.wx = shop({ subscribe: { [MEMBER[0]]: 'accept', [MEMBER[1]]: 'reject', [MEMBER[2]]: 'ban' } })
  const page = createPage('packages/member/pages/membership/membership')
  await page.onLoad()
  await wx.tap(page.subscribe)
  expect(recorded()[0].results).toEqual({ [MEMBER[0]]: 'accept', [MEMBER[1]]: 'reject', [MEMBER[2]]: 'ban' })
  expect(wx.named('showToast').pop().title).toBe('订阅成功')

  global.wx = shop({ subscribe: 'fail' })
  await wx.tap(page.subscribe)
  expect(wx.named('showToast').pop().title).toBe('未订阅')
  expect(page.data.error).toBe('')
})
