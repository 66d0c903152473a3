/** @jest-environment node */
// End to end: the real dev gateway over HTTP, the pages' own logic, a wx double whose request
// really calls the gateway: login -> browse -> add to cart -> checkout -> sandbox pay -> paid.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')

const gateway = useGateway()

test('a shopper logs in, browses, buys and pays in the sandbox', async () => {
  global.wx = createWx({ request: realRequest })
  installApp()

  // login (what App.onLaunch does)
  await api.ensureLogin()
  const token = wx.getStorageSync(api.TOKEN_KEY)
  expect(token).toBeTruthy()
  expect(wx.named('request')[0].data.code).toMatch(/^dev:/)

  // home: categories and the first page of the feed
  const home = createPage('pages/index/index')
  await home.onLoad()
  expect(home.data.error).toBe('')
  expect(home.data.categories.length).toBeGreaterThan(0)
  expect(home.data.items.length).toBeGreaterThan(0)
  expect(home.data.pages).toBeGreaterThan(1)
  await home.onReachBottom()
  expect(home.data.page).toBe(2)
  expect(new Set(home.data.items.map((p) => p.id)).size).toBe(home.data.items.length)

  // product detail, pick the first SKU in stock, add to cart
  const productId = home.data.items[0].id
  const product = createPage('pages/product/product')
  await product.onLoad({ id: productId })
  expect(product.data.error).toBe('')
  const sku = product.data.product.skus.find((s) => s.stock > 0)
  product.openCart()
  await product.onPickerConfirm({ detail: { sku_id: sku.id, quantity: 2, action: 'cart' } })
  expect(wx.named('showToast').pop().title).toBe('已加入购物车')

  // cart
  const cart = createPage('pages/cart/cart')
  await cart.onShow()
  expect(cart.data.items.map((i) => i.sku_id)).toEqual([sku.id])
  expect(cart.data.selectedTotal).toBe(sku.price * 2)
  wx.tap(cart.checkout)
  expect(wx.named('navigateTo').pop().url).toBe('/packages/order/pages/checkout/checkout?from=cart')

  // checkout: a new shopper has no address yet
  const checkout = createPage('packages/order/pages/checkout/checkout')
  await checkout.onLoad({ from: 'cart' })
  expect(checkout.data.error).toBe('')
  expect(checkout.data.address).toBeNull()
  checkout.setData({ addressForm: { name: '张三', phone: '13800000000', province: '上海市', city: '上海市', district: '浦东新区', detail: '世纪大道1号' } })
  expect(await checkout.saveAddress()).toBeTruthy()
  // the server's price before paying (preview_order), then the order charges exactly that
  const preview = await checkout.refreshPreview()
  expect(preview.payable).toBe(sku.price * 2)
  expect(checkout.data.preview.items[0].sku_id).toBe(sku.id)
  const order = await checkout.submit()
  expect(order.total).toBe(preview.payable)
  expect(order).toBeTruthy()
  expect(order.status).toBe('pending_payment')
  expect(order.total).toBe(sku.price * 2)
  const detailUrl = wx.named('redirectTo').pop().url
  expect(detailUrl).toBe('/packages/order/pages/detail/detail?id=' + order.id)

  // order detail: 沙箱支付 in gateway dev mode
  const detail = createPage('packages/order/pages/detail/detail')
  await detail.onLoad({ id: order.id })
  expect(detail.data.sandbox).toBe(true)
  expect(detail.data.order.status).toBe('pending_payment')
  await wx.tap(detail.sandboxPay)
  expect(detail.data.order.status).toBe('paid')
  expect(detail.data.statusText).toBe('待发货')

  // the order list shows it paid; the cart is empty again
  const list = createPage('packages/order/pages/list/list')
  list.onLoad({ status: 'paid' })
  await list.onShow()
  expect(list.data.items.map((o) => o.id)).toContain(order.id)
  await cart.onShow()
  expect(cart.data.empty).toBe(true)
}, 60000)

test('a stale token is replaced by logging in again once', async () => {
  global.wx = createWx({ request: realRequest })
  wx.setStorageSync(api.TOKEN_KEY, 'not-a-real-token')
  const profile = await api.call('get_profile', {})
  expect(profile).toBeTruthy()
  const actions = wx.named('request').map((r) => r.url.split('/api/')[1])
  expect(actions).toEqual(['get_profile', 'login', 'get_profile'])
}, 30000)

test('the real gateway error envelope reaches the user in Chinese', async () => {
  global.wx = createWx({ request: realRequest })
  await expect(api.call('get_product', { product_id: 'prd_does_not_exist' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: '内容不存在' })
}, 30000)
