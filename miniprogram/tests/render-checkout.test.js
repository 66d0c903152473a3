/** @jest-environment jsdom */
// Render test: checkout's real WXML with the price component shows the preview's rows.
const simulate = require('miniprogram-simulate')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const { shop } = require('./helpers/checkout-shop')
const config = require('../config')

test('the rendered checkout lists each discount row, freight and what to pay', async () => {
  config.mode = 'gateway'
  config.dev = true
  installApp()
  global.wx = shop()
  const comp = renderPage('packages/order/pages/checkout/checkout')
  await comp.instance.onLoad({ from: 'cart' })
  await comp.instance.chooseCoupon({ currentTarget: { dataset: { id: 'uc_1' } } })
  await simulate.sleep(0)
  const rows = texts(comp, '.main--summary .main--row')
  expect(rows).toEqual(['商品金额¥79.80', '优惠券-¥5.00', '运费免运费', '实付款¥74.80'])
  expect(texts(comp, '.main--bottom-bar')[0]).toMatch(/实付 ?¥74.80/)
})
