// Subscribe messages: ask wx.requestSubscribeMessage for a moment's templates (config.js) and
// report the answer with record_subscription. Never throws: a declined, failing or missing
// request resolves to null and the page goes on.
// wx.requestSubscribeMessage works only inside the user's tap (WeChat refuses it after a network
// wait or from onHide): call requestSubscribe first thing in a bind:tap handler, before any
// await. It calls wx synchronously, so `const asked = requestSubscribe(m); ...; await asked` is fine.
const api = require('./api')
const config = require('../config')

const RESULTS = ['accept', 'reject', 'ban', 'filter']

// Outside develop a placeholder id never reaches WeChat (it would fail as an unknown template):
// config.check() logs them at launch so they get replaced.
function templatesFor(moment) {
  const all = (config.subscribeTemplates && config.subscribeTemplates[moment]) || []
  const usable = (t) => typeof t === 'string' && t && (config.dev || !config.isPlaceholder(t))
  return all.filter(usable).slice(0, 3)
}

function ask(tmplIds) {
  return new Promise((resolve) => {
    if (typeof wx === 'undefined' || typeof wx.requestSubscribeMessage !== 'function') return resolve(null)
    try {
      wx.requestSubscribeMessage({ tmplIds, success: (res) => resolve(res || null), fail: () => resolve(null) })
    } catch (e) { resolve(null) }
  })
}

// moment: 'order' | 'cart' | 'member' -> Promise<{accepted, remaining} | null>
async function requestSubscribe(moment) {
  const tmplIds = templatesFor(moment)
  if (!tmplIds.length) return null
  try {
    const res = await ask(tmplIds)
    if (!res) return null
    const results = {}
    for (const t of tmplIds) if (RESULTS.indexOf(res[t]) >= 0) results[t] = res[t]
    const template_ids = Object.keys(results)
    if (!template_ids.length) return null
    return await api.call('record_subscription', { template_ids, results })
  } catch (e) {
    return null
  }
}

module.exports = { requestSubscribe, templatesFor }
