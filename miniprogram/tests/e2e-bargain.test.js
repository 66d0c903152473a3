/** @jest-environment node */
// End to end against the real dev gateway: shopper A starts the seeded bargain (its campaign id
// from the merchant API), shopper B opens A's shared link and helps once, A sees the price drop.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')

const gateway = useGateway()

const query = (url) => Object.fromEntries(new URLSearchParams(url.split('?')[1]))

test('A starts the demo bargain, B helps once, A sees the price drop', async () => {
  const listed = await realRequest({ url: gateway.base + '/api/merchant_list_bargains', method: 'POST', data: {}, header: { 'Content-Type': 'application/json', Authorization: 'Bearer dev-merchant-token' } })
  expect(listed.statusCode).toBe(200)
  const campaign = listed.data.data.items[0]
  expect(campaign && campaign.id).toBeTruthy()

  // ---- A starts it from the bargain page and shares it
  global.wx = createWx({ request: realRequest })
  installApp()
  const pageA = createPage('packages/social/pages/bargain/bargain')
  await pageA.onLoad({ campaign_id: campaign.id })
  expect(pageA.data.error).toBe('')
  const started = pageA.data.bargain
  expect(started.is_mine).toBe(true)
  expect(started.current_price).toBe(started.start_price)
  await pageA.prepareShare()
  const shared = pageA.onShareAppMessage({ from: 'button' })
  expect(shared.path).toMatch(new RegExp('^/packages/social/pages/bargain/bargain\\?id=' + started.id + '&s=[^&]+$'))
  const wxA = global.wx

  // ---- B opens the link and helps once
  global.wx = createWx({ request: realRequest })
  installApp()
  const pageB = createPage('packages/social/pages/bargain/bargain')
  await pageB.onLoad(query(shared.path))
  expect(pageB.data.bargain.is_mine).toBe(false)
  const helped = await pageB.help()
  expect(helped && helped.cut).toBeGreaterThan(0)
  expect(pageB.data.bargain.helped_by_me).toBe(true)
  expect(await pageB.help()).toBeNull()

  // ---- A reloads and sees the drop
  global.wx = wxA
  await pageA.load()
  expect(pageA.data.bargain.help_count).toBe(1)
  expect(pageA.data.bargain.current_price).toBe(started.start_price - helped.cut)
  expect(pageA.data.bargain.helps.length).toBe(1)
  expect(pageA.data.progress).toBeGreaterThan(0)
}, 90000)
