// `make shots`: the main pages, with the demo shop of the real dev gateway, rendered by
// miniprogram-simulate (real WXML, components, WXSS) and shot in headless Chromium at 375 x 812
// (2x: 750 x 1624 PNGs) into miniprogram/shots/<page>.png, for a person to look at.
// Runs under jest (jsdom is what miniprogram-simulate renders into): see jest.config.js here.
// SHOTS_PAGES=home,cart limits the pages; SHOTS_DIR changes where the PNGs go.
const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')
const simulate = require('miniprogram-simulate')
const { createWx } = require('../../tests/helpers/wx')
const { createPage, installApp } = require('../../tests/helpers/page')
const { renderPage } = require('../../tests/helpers/render-page')
const { startGateway, realRequest } = require('../../tests/helpers/gateway')
const { shotHtml } = require('./html')

const ROOT = path.join(__dirname, '..', '..')
const APP = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
// Lujiazui, where the demo stores are
const LOCATION = { latitude: 31.238, longitude: 121.5025, accuracy: 30 }
const ADDRESS = { name: '张三', phone: '13800000000', province: '上海市', city: '上海市', district: '浦东新区', detail: '世纪大道1号', is_default: true }

// the main pages by name, with the query each opens with (from what setup() made)
const MAIN = [
  ['home', 'pages/index/index'],
  ['category', 'pages/category/category'],
  ['product', 'pages/product/product', (s) => ({ id: s.productId })],
  ['cart', 'pages/cart/cart'],
  ['me', 'pages/me/me'],
  ['checkout', 'packages/order/pages/checkout/checkout', () => ({ from: 'cart' })],
  ['order-list', 'packages/order/pages/list/list', () => ({ status: '' })],
  ['order-detail', 'packages/order/pages/detail/detail', (s) => ({ id: s.orderId })],
  ['team', 'packages/social/pages/team/team', (s) => ({ campaign_id: s.campaignId })],
  ['deals', 'packages/nearby/pages/deals/deals', () => ({})],
  ['membership', 'packages/member/pages/membership/membership'],
  ['coupons', 'packages/member/pages/coupons/coupons'],
  ['live-list', 'packages/live/pages/list/list', () => ({})],
  ['trace', 'packages/trace/pages/trace/trace', (s) => ({ code: s.traceCode || 'demo' })],
  ['chat', 'packages/assistant/pages/chat/chat', () => ({})]
]

// the other pages of today's app.json, opened on something the demo shop has
const QUERIES = {
  'packages/order/pages/aftersale/aftersale': (s) => ({ order_id: s.orderId }),
  'packages/nearby/pages/store/store': (s) => ({ store_id: s.storeId }),
  'packages/ar/pages/tryon/tryon': (s) => ({ product_id: s.productId }),
  'packages/social/pages/bargain/bargain': () => ({}),
  'packages/live/pages/room/room': () => ({})
}

// every page of app.json: the main ones by name, any other one (a page added later) by its route
function allPages() {
  const routes = APP.pages.slice()
  for (const sub of APP.subPackages || APP.subpackages || []) for (const p of sub.pages) routes.push(sub.root + '/' + p)
  const known = new Set(MAIN.map((m) => m[1]))
  const extra = routes.filter((r) => !known.has(r)).map((r) => [r.replace(/^(packages\/)?/, '').replace(/pages\//g, '').replace(/\/[^/]+$/, '').replace(/\//g, '-'), r, QUERIES[r]])
  return MAIN.concat(extra).filter((m) => routes.includes(m[1]))
}

function chromiumPath() {
  for (const bin of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (bin && fs.existsSync(bin)) return bin
  }
  return null
}

// Chromium's own --screenshot: no driver, nothing downloaded
function screenshot(chromium, htmlFile, pngFile) {
  execFileSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
    '--force-device-scale-factor=2', '--window-size=375,812', '--virtual-time-budget=3000',
    '--screenshot=' + pngFile, 'file://' + htmlFile], { stdio: 'pipe', timeout: 60000 })
}

// wx whose requests go to the gateway, counted so a shot waits for the page's answers
function shotWx() {
  let inflight = 0
  const record = process.env.SHOTS_RECORD // a file: every action's last answer, to write test fixtures from
  const answers = {}
  const wx = createWx({ request: (o) => {
    inflight++
    return realRequest(o).then((res) => {
      const action = o.url.split('/api/')[1]
      if (record && !(answers[action] && answers[action].ok)) { answers[action] = res.data; fs.writeFileSync(record, JSON.stringify(answers, null, 1)) }
      return res
    }).finally(() => { inflight-- })
  },
    location: LOCATION, subscribe: 'fail' })
  Object.assign(wx, {
    getSystemInfoSync: () => ({ windowWidth: 375, windowHeight: 812, screenWidth: 375, screenHeight: 812, pixelRatio: 2, statusBarHeight: 44, safeArea: { top: 44, bottom: 778, left: 0, right: 375, width: 375, height: 734 } }),
    getWindowInfo: () => ({ windowWidth: 375, windowHeight: 812, pixelRatio: 2, statusBarHeight: 44 }),
    getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop', appId: 'touristappid' } }),
    pageScrollTo: () => {}, createSelectorQuery: () => ({ select: () => ({ boundingClientRect: () => ({ exec: () => {} }) }), selectAll: () => ({ boundingClientRect: () => ({ exec: () => {} }) }) })
  })
  wx.idle = async () => {
    for (let quiet = 0, n = 0; quiet < 3 && n < 200; n++) {
      await simulate.sleep(30)
      quiet = inflight ? 0 : quiet + 1
    }
  }
  return wx
}

// one shopper with something in the cart, an order to pay, and the demo campaign's id
async function setup(api) {
  await api.ensureLogin()
  await api.call('add_address', ADDRESS)
  const state = {}
  const products = await api.call('list_products', { page: 1 })
  const product = products.items[0]
  state.productId = product.id
  const detail = await api.call('get_product', { product_id: product.id })
  const sku = detail.skus.find((s) => s.stock > 0)
  // an order waiting to be paid, placed through the checkout page's own logic
  await api.call('cart_add', { sku_id: sku.id, quantity: 2 })
  const checkout = createPage('packages/order/pages/checkout/checkout')
  await checkout.onLoad({ from: 'cart' })
  const order = await checkout.submit()
  state.orderId = order && order.id
  // and the cart filled again for the cart and checkout shots
  const second = (products.items[1] && await api.call('get_product', { product_id: products.items[1].id })) || detail
  await api.call('cart_add', { sku_id: sku.id, quantity: 1 })
  await api.call('cart_add', { sku_id: second.skus.find((s) => s.stock > 0).id, quantity: 2 })
  try {
    const stores = await api.call('nearby_stores', { lat: LOCATION.latitude, lng: LOCATION.longitude, radius_m: 50000, page: 1, page_size: 1 })
    state.storeId = stores.items.length ? stores.items[0].id : ''
  } catch (e) { state.storeId = '' }
  try {
    const campaigns = await api.call('list_group_buys', {})
    state.campaignId = campaigns.items.length ? campaigns.items[0].id : ''
  } catch (e) { state.campaignId = '' }
  return state
}

async function shootPage(name, route, query, outDir, chromium) {
  const comp = renderPage(route)
  const page = comp.instance
  if (page.onLoad) await page.onLoad(query || {})
  if (page.onShow) await page.onShow()
  if (page.onReady) await page.onReady()
  await wx.idle()
  const htmlFile = path.join(outDir, name + '.html')
  fs.writeFileSync(htmlFile, shotHtml(comp, route, APP))
  const pngFile = path.join(outDir, name + '.png')
  if (fs.existsSync(pngFile)) fs.unlinkSync(pngFile)
  screenshot(chromium, htmlFile, pngFile)
  comp.detach()
  return pngFile
}

async function run(options) {
  const chromium = chromiumPath()
  if (!chromium) throw new Error('make shots needs Chromium: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)')
  const only = (options.only || '').split(',').map((s) => s.trim()).filter(Boolean)
  const outDir = options.outDir
  fs.mkdirSync(outDir, { recursive: true })
  const gateway = await startGateway()
  const config = require('../../config')
  const api = require('../../services/api')
  Object.assign(config, { mode: 'gateway', dev: true, gatewayBase: gateway.base })
  installApp()
  global.wx = shotWx()
  const shots = []
  try {
    const state = await setup(api)
    for (const [name, route, query] of allPages()) {
      if (only.length && !only.includes(name)) continue
      shots.push({ name, route, file: await shootPage(name, route, query ? query(state) : {}, outDir, chromium) })
    }
  } finally {
    await gateway.stop()
  }
  return shots
}

module.exports = { run, allPages, chromiumPath, MAIN }
