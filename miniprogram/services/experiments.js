// A/B tests: the variant of an experiment for this shopper (or this phone before login).
// get_experiment_variant is sticky on the shop's side (a hash of key and subject; the phone's
// variant carries over at login), so one answer per key per launch is enough. Nothing here may
// hold a page up: an error, an unknown key, or a variant the page does not know gives the
// page's own default.
const api = require('./api')
const { deviceId } = require('../utils/device')

let asked = {}

function variant(key, known, fallback) {
  if (!asked[key]) {
    asked[key] = api.call('get_experiment_variant', { key, device_id: deviceId() })
      .then((res) => (res && res.variant) || null)
      .catch(() => { delete asked[key]; return null }) // offline: ask again next time
  }
  return asked[key].then((name) => (name && known.indexOf(name) >= 0 ? name : fallback))
}

// tests start each launch afresh
function forget() { asked = {} }

module.exports = { variant, forget }
