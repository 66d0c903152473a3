/** @jest-environment node */
// The tracking module (埋点): batches of 20 or every 10 s, retried with the same event ids,
// automatic page views, flushed on hide, off when consent is off; and against the real
// gateway: a retried batch is stored once.
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { startGateway, realRequest } = require('./helpers/gateway')
const config = require('../config')
const track = require('../services/track')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const flush = () => new Promise((r) => setImmediate(r))
const settle = async () => { for (let i = 0; i < 10; i++) await flush() }

// a fake shop: track_events answers what `answer` says (a function of the request)
function shop(answer) {
  return createWx({
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok-1' })
      if (a === 'track_events') return answer(r)
      if (a === 'set_tracking_consent') return ok({ enabled: r.data.enabled })
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}
const batches = () => wx.named('request').filter((r) => action(r) === 'track_events').map((r) => r.data)
const accepted = (r) => ok({ accepted: r.data.events.length, duplicates: 0, tracking: true })

beforeEach(() => {
  config.mode = 'gateway'
  installApp()
  track.reset()
  jest.useRealTimers()
})

test('20 events go at once as one batch, with the device id and when it was sent', async () => {
  global.wx = shop(accepted)
  for (let i = 0; i < 19; i++) track.track('x_tap', { i })
  await settle()
  expect(batches()).toHaveLength(0)

  track.productView({ id: 'prd_1', category_id: 'cat_1' }, 'pages/product/product')
  await settle()

  const sent = batches()
  expect(sent).toHaveLength(1)
  expect(sent[0].events).toHaveLength(20)
  expect(sent[0].device_id).toBe(track.deviceId())
  expect(sent[0].events[19]).toMatchObject({ name: 'product_view', page: 'pages/product/product', props: { product_id: 'prd_1', category_id: 'cat_1' } })
  expect(new Date(sent[0].sent_at).getTime()).toBeGreaterThan(0)
  expect(track.pending()).toHaveLength(0)
})

test('fewer events go after 10 seconds', async () => {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] })
  global.wx = shop(accepted)
  track.search('口红', 3)
  track.addToCart('prd_1', 'sku_1', 2)
  jest.advanceTimersByTime(9999)
  await settle()
  expect(batches()).toHaveLength(0)

  jest.advanceTimersByTime(1)
  await settle()

  expect(batches()).toHaveLength(1)
  expect(batches()[0].events.map((e) => e.name)).toEqual(['search', 'add_to_cart'])
  expect(batches()[0].events[1].props).toEqual({ product_id: 'prd_1', sku_id: 'sku_1', quantity: 2 })
})

test('a failed batch is kept and sent again with the same event ids', async () => {
  let fail = true
  global.wx = shop((r) => (fail ? Promise.reject(new Error('offline')) : accepted(r)))
  track.track('x_a')
  track.track('x_b')
  await track.flush()
  expect(track.pending()).toHaveLength(2)
  // kept in storage too: a restart of the app still sends them
  expect(wx.storage.shop_track_queue).toHaveLength(2)

  fail = false
  track.track('x_c')
  await track.flush()

  const [first, second] = batches()
  expect(second.events.slice(0, 2).map((e) => e.event_id)).toEqual(first.events.map((e) => e.event_id))
  expect(second.events).toHaveLength(3)
  expect(track.pending()).toHaveLength(0)
})

test('a batch the server refuses as invalid is dropped, not retried forever', async () => {
  global.wx = shop(() => ({ statusCode: 422, data: { ok: false, error: { code: 'VALIDATION_ERROR' } } }))
  track.track('x_a')
  await track.flush()

  expect(track.pending()).toHaveLength(0)
})

test('page views are automatic: every page defined after install records one on show', async () => {
  global.wx = shop(accepted)
  const defined = []
  global.Page = (def) => { defined.push(def) }
  track.install()
  let shown = 0
  Page({ onShow() { shown += 1 } })
  const page = Object.assign({}, defined[0], { route: 'pages/cart/cart' })

  page.onShow()

  expect(shown).toBe(1)
  expect(track.pending()).toEqual([expect.objectContaining({ name: 'page_view', page: 'pages/cart/cart' })])
  delete global.Page
})

test('hiding the app sends what waits', async () => {
  global.wx = shop(accepted)
  global.App = (def) => { global.__app = def }
  jest.isolateModules(() => { require('../app.js') })
  track.track('x_a')

  await global.__app.onHide()

  expect(batches()).toHaveLength(1)
  delete global.App
})

test('with consent off nothing is queued or sent, and what waited is dropped', async () => {
  global.wx = shop(accepted)
  track.track('x_a')
  await track.setConsent(false)

  track.track('x_b')
  await track.flush()

  expect(batches()).toHaveLength(0)
  expect(track.pending()).toHaveLength(0)
  expect(wx.named('request').find((r) => action(r) === 'set_tracking_consent').data).toEqual({ enabled: false })

  await track.setConsent(true)
  track.track('x_c')
  await track.flush()
  expect(batches()).toHaveLength(1)
})

test('the server saying tracking is off turns the module off', async () => {
  global.wx = shop(() => ok({ accepted: 0, duplicates: 0, dropped: 1, tracking: false }))
  track.track('x_a')
  await track.flush()

  expect(track.enabled()).toBe(false)
  expect(track.track('x_b')).toBeNull()
})

describe('against the real gateway', () => {
  let gateway
  beforeAll(async () => {
    gateway = await startGateway()
    config.dev = true
    config.gatewayBase = gateway.base
  }, 60000)
  afterAll(async () => { if (gateway) await gateway.stop() })

  test('a batch cut off after the server stored it is stored once when retried', async () => {
    let cut = true
    // the first answer is lost on the way back: the server has the events, the phone does not know
    global.wx = createWx({ request: (o) => realRequest(o).then((res) => { if (cut && action(o) === 'track_events') { cut = false; throw new Error('lost') } return res }) })
    for (let i = 0; i < 5; i++) track.track('x_tap', { i })
    await track.flush()
    expect(track.pending()).toHaveLength(5)

    const res = await track.flush()

    expect(res).toMatchObject({ accepted: 0, duplicates: 5 })
    expect(track.pending()).toHaveLength(0)
  }, 30000)
})
