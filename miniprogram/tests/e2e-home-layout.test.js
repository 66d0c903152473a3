/** @jest-environment node */
// End to end: the merchant starts the home_layout test on the real dev gateway; the home page
// asks for its variant before login (by this phone's device id) and after, and shows the same
// layout both times (the shop carries the phone's variant over to the shopper).
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')
const experiments = require('../services/experiments')

const gateway = useGateway()

const merchant = (action, data) => realRequest({
  url: gateway.base + '/api/' + action, method: 'POST', data,
  header: { 'Content-Type': 'application/json', Authorization: 'Bearer dev-merchant-token' }
})

test('the home page shows the variant the shop assigned, before and after login', async () => {
  const created = await merchant('merchant_create_experiment', {
    key: 'home_layout', metric: 'order_paid',
    variants: [{ name: 'grid', weight: 1 }, { name: 'list', weight: 1 }]
  })
  // the demo data may already run it: either way it is live now
  expect([200, 409]).toContain(created.statusCode)
  global.wx = createWx({ request: realRequest })
  installApp()

  experiments.forget()
  const before = createPage('pages/index/index')
  await before.onLoad()
  const ask = wx.named('request').find((r) => r.url.endsWith('/api/get_experiment_variant'))
  expect(ask.header.Authorization).toBeUndefined()      // anonymous: the phone is the subject
  expect(['grid', 'list']).toContain(before.data.layout)
  expect(before.data.items.length).toBeGreaterThan(0)

  await api.ensureLogin()
  experiments.forget()                                    // a new launch, now with a token
  const after = createPage('pages/index/index')
  await after.onLoad()
  expect(after.data.layout).toBe(before.data.layout)

  const report = await merchant('merchant_experiment_report', { key: 'home_layout' })
  expect(report.statusCode).toBe(200)
  expect(report.data.data.users).toBe(1)   // the phone and its shopper: one person
}, 60000)
