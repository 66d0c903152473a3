/** @jest-environment jsdom */
// The home page's A/B test: it asks get_experiment_variant for `home_layout` with this phone's
// device id (and the token once logged in) and renders the feed as that variant: a grid of cards
// or one row per product. An error, an unknown key or a variant it does not know shows the grid.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage } = require('./helpers/render-page')
const config = require('../config')
const experiments = require('../services/experiments')
const { DEVICE_KEY } = require('../utils/device')

const PRODUCTS = [
  { id: 'p1', title: '赣南脐橙', subtitle: '当季现摘', price: 3990, sales: 120, image: 'p1.png' },
  { id: 'p2', title: '阿克苏苹果', subtitle: '冰糖心', price: 6990, sales: 0, image: 'p2.png' }
]

// one renderPage per test file (miniprogram-simulate registers the page's components once)
let comp = null

function shop(variantAnswer) {
  return (o) => {
    const action = o.url.split('/api/')[1]
    if (action === 'list_products') return { statusCode: 200, data: { ok: true, data: { items: PRODUCTS, page: 1, pages: 1 } } }
    if (action === 'list_categories') return { statusCode: 200, data: { ok: true, data: { items: [] } } }
    if (action === 'get_experiment_variant') return variantAnswer(o)
    return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  }
}

async function load(variantAnswer, storage) {
  config.mode = 'gateway'
  experiments.forget()
  installApp()
  global.wx = createWx({ request: shop(variantAnswer) })
  Object.assign(wx.storage, storage || {})
  if (!comp) comp = renderPage('pages/index/index')
  comp.instance.setData({ layout: 'grid', items: [] })
  await comp.instance.onLoad()
  await simulate.sleep(0)
  return comp
}

const answer = (variant) => () => ({ statusCode: 200, data: { ok: true, data: { key: 'home_layout', variant } } })
const feed = (c) => c.dom.querySelector('.main--feed')
const cardClasses = (c) => Array.from(c.dom.querySelectorAll('.main--feed product-card')).map((n) => n.querySelector('.product-card--card').className)

test('the list variant renders one row per product', async () => {
  const c = await load(answer('list'))

  expect(feed(c).className).toContain('main--feed--list')
  expect(cardClasses(c)).toEqual(['product-card--card product-card--card--list', 'product-card--card product-card--card--list'])
  const ask = wx.named('request').find((r) => r.url.endsWith('/api/get_experiment_variant'))
  expect(ask.data.key).toBe('home_layout')
  expect(ask.data.device_id).toMatch(/^[A-Za-z0-9_.:-]{8,64}$/)
  expect(wx.storage[DEVICE_KEY]).toBe(ask.data.device_id)
})

test('the grid variant renders cards in two columns', async () => {
  const c = await load(answer('grid'))

  expect(feed(c).className).toContain('main--feed--grid')
  expect(cardClasses(c)[0]).toContain('product-card--card--grid')
})

test('the same phone sends the same device id, and the token once logged in', async () => {
  await load(answer('list'), { [DEVICE_KEY]: 'dev-kept-0001', shop_token: 'tok-1' })

  const ask = wx.named('request').find((r) => r.url.endsWith('/api/get_experiment_variant'))
  expect(ask.data.device_id).toBe('dev-kept-0001')
  expect(ask.header.Authorization).toBe('Bearer tok-1')
})

test.each([
  ['an unknown key', answer(null)],
  ['a variant the page does not know', answer('carousel')],
  ['an error', () => ({ statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } })]
])('%s shows the grid and the products all the same', async (_, variantAnswer) => {
  const c = await load(variantAnswer)

  expect(feed(c).className).toContain('main--feed--grid')
  expect(c.dom.querySelectorAll('.main--feed product-card')).toHaveLength(2)
})
