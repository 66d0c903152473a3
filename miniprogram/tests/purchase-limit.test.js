/** @jest-environment jsdom */
// Fair stock in the mini-program: the shop's PURCHASE_LIMIT and TOO_MANY_UNPAID refusals are
// shown in Chinese at checkout (in a dialog: the sentence names the product and the numbers),
// and a product's 限购 is shown and bounds the quantity picker.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const { limitText, perOrderMax } = require('../utils/limit')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const refusal = (code, message_zh, details) =>
  ({ statusCode: 409, data: { ok: false, error: { code, message: code, message_zh, details } } })

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

function fakeShop(handlers, extra) {
  return createWx(Object.assign({ request: (o) => handlers[action(o)](o.data, o) }, extra || {}))
}

async function checkout(placeOrder, extra) {
  global.wx = fakeShop({
    list_addresses: () => ok({ items: [{ id: 'adr_1', name: '张三', is_default: true }] }),
    list_my_coupons: () => ok({ items: [] }),
    place_order: placeOrder
  }, extra)
  const page = createPage('packages/order/pages/checkout/checkout')
  await page.onLoad({ sku_id: 'sku_1', quantity: '3' })
  return page
}

test('a purchase limit refusal shows its Chinese sentence in full, in a dialog', async () => {
  const page = await checkout(() => refusal('PURCHASE_LIMIT', '「茅台」每人每天限购2件，今天已购2件',
    { kind: 'per_shopper_per_day', limit: 2, already: 2, sku: 'sku_1' }))

  expect(await page.submit()).toBeNull()

  const modal = wx.named('showModal')[0]
  expect(modal.content).toBe('「茅台」每人每天限购2件，今天已购2件')
  expect(modal.title).toBe('超出限购')
  expect(modal.showCancel).toBe(false)
  expect(wx.named('navigateTo')).toEqual([])
  expect(page.data.submitting).toBe(false)
})

test('too many unpaid orders leads the shopper to them', async () => {
  const page = await checkout(() => refusal('TOO_MANY_UNPAID', '您有5个待支付订单，请先支付或取消后再下单',
    { kind: 'unpaid_orders', limit: 5, already: 5, sku: null }))

  await page.submit()

  expect(wx.named('showModal')[0].content).toBe('您有5个待支付订单，请先支付或取消后再下单')
  expect(wx.named('navigateTo')[0].url).toBe('/packages/order/pages/list/list?status=pending_payment')
})

test('too many units at once says so without sending the shopper anywhere', async () => {
  const page = await checkout(() => refusal('TOO_MANY_UNPAID', '「苹果」一次最多下单20件',
    { kind: 'unpaid_units', limit: 20, already: 0, sku: 'sku_1' }))

  await page.submit()

  expect(wx.named('showModal')[0].content).toBe('「苹果」一次最多下单20件')
  expect(wx.named('navigateTo')).toEqual([])
})

test('without a message_zh the codes still read in Chinese', async () => {
  const page = await checkout(() => refusal('PURCHASE_LIMIT', undefined, {}))

  await page.submit()

  expect(wx.named('showModal')[0].content).toBe('超出限购数量')
})

test('a product shows its purchase limit in words', () => {
  expect(limitText({ per_order: 2, per_shopper_per_day: 5 })).toBe('每单限购2件 · 每人每天限购5件')
  expect(limitText({ per_shopper_per_campaign: 6, campaign: '双11' })).toBe('双11期间每人限购6件')
  expect(limitText(null)).toBe('')
  expect(perOrderMax({ per_order: 4, per_shopper_per_day: 3 })).toBe(3)
  expect(perOrderMax(null)).toBe(0)
})

test('the product page shows the limit and the picker stops at it', async () => {
  global.wx = fakeShop({
    get_product: () => ok({ id: 'p1', title: '茅台', price: 149900, images: [], skus: [],
                            purchase_limit: { per_order: 2, per_shopper_per_day: null, per_shopper_per_campaign: null, campaign: null } }),
    list_group_buys: () => ok({ items: [] }),
    create_share: () => ok({ code: 'AB12' })
  })
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'p1' })
  expect(page.data.limitText).toBe('每单限购2件')
  expect(page.data.limitMax).toBe(2)

  const id = simulate.load(path.join(__dirname, '..', 'components', 'sku-picker', 'sku-picker'), { rootPath: path.join(__dirname, '..') })
  const comp = simulate.render(id, { skus: [{ id: 'sku_a', specs: {}, price: 100, stock: 10 }], show: true, limit: 2 })
  comp.attach(document.createElement('parent-wrapper'))
  await simulate.sleep(0)
  comp.instance.onPlus(); comp.instance.onPlus(); comp.instance.onPlus()
  expect(comp.data.quantity).toBe(2)
  expect(comp.dom.textContent).toContain('限购2件')
  expect(wx.named('showToast').pop().title).toBe('限购2件')
})
