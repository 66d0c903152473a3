// 埋点: what the shopper does, sent to track_events in batches.
// - page views are automatic (install() wraps Page so every page's onShow records one);
//   product views, searches and add-to-carts are recorded by the pages that see them;
// - a batch goes every 10 s, as soon as 20 events wait, and when the app is hidden;
// - a batch that fails (offline, 5xx) stays queued, in storage too, and is sent again with the
//   same event ids, so the server stores each event once however often it is sent;
// - off when the shopper turned tracking off (setConsent(false), or the server answering
//   tracking: false): nothing is queued or sent, and what waited is dropped.
const api = require('./api')
// one id per phone, shared with the A/B tests (utils/device.js)
const { deviceId } = require('../utils/device')

const QUEUE_KEY = 'shop_track_queue'
const CONSENT_KEY = 'shop_track_consent'
const BATCH = 20 // send as soon as this many wait
const MAX_CALL = 50 // the server takes at most 50 a call
const INTERVAL_MS = 10000
const MAX_QUEUE = 500 // offline for long: the oldest go first

let queue = null
let sending = null
let timer = null
let seq = 0

function storage(key, fallback) {
  try { const v = wx.getStorageSync(key); return v === '' || v == null ? fallback : v } catch (e) { return fallback }
}
function save(key, value) { try { wx.setStorageSync(key, value) } catch (e) { /* storage full: memory only */ } }

function random() { return Math.random().toString(36).slice(2, 10) }

function pending() {
  if (queue === null) queue = storage(QUEUE_KEY, [])
  return queue
}
function persist() { save(QUEUE_KEY, pending()) }

function enabled() { return storage(CONSENT_KEY, true) !== false }

function stopTimer() { if (timer) { clearTimeout(timer); timer = null } }
function startTimer() {
  if (timer) return
  timer = setTimeout(() => { timer = null; flush() }, INTERVAL_MS)
  if (timer && timer.unref) timer.unref() // node (the tests): a pending batch keeps nothing alive
}

function clean(props) {
  const out = {}
  for (const [k, v] of Object.entries(props || {})) if (v !== undefined && v !== null) out[k] = v
  return out
}

// record one event; props must fit the name's schema on the server (see README, Tracking)
function track(name, props, page) {
  if (!enabled()) return null
  const event = { event_id: Date.now().toString(36) + '-' + (seq++) + '-' + random(), name, ts: new Date().toISOString() }
  if (page) event.page = page
  if (props && Object.keys(props).length) event.props = props
  const q = pending()
  q.push(event)
  if (q.length > MAX_QUEUE) q.splice(0, q.length - MAX_QUEUE)
  persist()
  if (q.length >= BATCH) flush()
  else startTimer()
  return event
}

function forget(ids) {
  queue = pending().filter((e) => !ids.has(e.event_id))
  persist()
}

// send what waits, 50 at a time; resolves when done (or failed: kept for the next flush)
function flush() {
  stopTimer()
  if (sending) return sending
  const q = pending()
  if (!q.length || !enabled()) return Promise.resolve(null)
  const batch = q.slice(0, MAX_CALL)
  const ids = new Set(batch.map((e) => e.event_id))
  sending = api.call('track_events', { device_id: deviceId(), sent_at: new Date().toISOString(), events: batch })
    .then((res) => {
      forget(ids)
      if (res && res.tracking === false) disable()
      return res
    }, (err) => {
      // refused as invalid: sending it again can never succeed; anything else is retried
      if (err && err.code === 'VALIDATION_ERROR') forget(ids)
      else startTimer()
      return null
    })
    .then((res) => {
      sending = null
      if (res && pending().length >= BATCH) return flush()
      return res
    })
  return sending
}

function disable() {
  save(CONSENT_KEY, false)
  queue = []
  persist()
  stopTimer()
}

// the shopper's choice, kept on the server (set_tracking_consent) and here
function setConsent(on) {
  if (on) save(CONSENT_KEY, true)
  else disable()
  return api.call('set_tracking_consent', { enabled: !!on })
}

const productView = (product, page) => track('product_view', clean({ product_id: product.id, category_id: product.category_id }), page)
const search = (keyword, results) => track('search', results == null ? { keyword } : { keyword, results })
const addToCart = (productId, skuId, quantity) => track('add_to_cart', { product_id: productId, sku_id: skuId, quantity: quantity || 1 })

// automatic page views: every page defined after this records one on each onShow
function install() {
  if (typeof Page !== 'function' || Page.__tracked) return
  const original = Page
  const wrapped = function (def) {
    const onShow = def.onShow
    def.onShow = function () {
      track('page_view', {}, this.route || '')
      return onShow ? onShow.apply(this, arguments) : undefined
    }
    return original(def)
  }
  wrapped.__tracked = true
  Page = wrapped // eslint-disable-line no-global-assign
  if (typeof wx !== 'undefined' && wx.onAppHide) wx.onAppHide(() => { flush() })
}

// tests: forget what this module holds in memory
function reset() { stopTimer(); queue = null; sending = null }

module.exports = {
  track: (name, props, page) => track(name, clean(props), page),
  flush, setConsent, enabled, install, deviceId, productView,
  search, addToCart, reset, pending: () => pending().slice(), BATCH, INTERVAL_MS
}
