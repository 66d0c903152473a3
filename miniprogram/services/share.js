// Shares: a share code from create_share goes into the shared path as ?s=<code>; opening the
// mini-program with ?s= or a mini-program-code scene reports track_share_open. Never throws.
const api = require('./api')

// {target, targetId} -> Promise<{share_id, code, path} or null>
async function createShareInfo(target, targetId) {
  if (!target || !targetId) return null
  try {
    const res = await api.call('create_share', { target, target_id: String(targetId) })
    return res && res.code ? res : null
  } catch (e) {
    return null
  }
}

// {target, targetId} -> Promise<code or ''>
async function createShare(target, targetId) {
  const res = await createShareInfo(target, targetId)
  return (res && res.code) || ''
}

// '/pages/product/product?id=1' + code -> '/pages/product/product?id=1&s=<code>'
function withCode(path, code) {
  if (!code) return path
  return path + (path.indexOf('?') >= 0 ? '&' : '?') + 's=' + encodeURIComponent(code)
}

// the code in launch/show options ({query: {s | scene}}) or page options ({s | scene});
// App's own options.scene is the numeric entry scene (1001, 1047, ...), never a code.
function codeFrom(options) {
  const o = options || {}
  const q = o.query && typeof o.query === 'object' ? o.query : o
  let code = q.s || (typeof q.scene === 'string' ? q.scene : '')
  if (!code) return ''
  try { code = decodeURIComponent(String(code)) } catch (e) { code = String(code) }
  // a scene may carry key=value pairs ("s=abc"): take the code out of it
  const m = /(?:^|&)s=([^&]+)/.exec(code)
  if (m) code = m[1]
  return code.trim()
}

// report an open once logged in -> Promise<answer or null>
async function trackOpen(code) {
  if (!code) return null
  try {
    await api.ensureLogin()
    return await api.call('track_share_open', { scene: code })
  } catch (e) {
    return null
  }
}

// the onShareAppMessage answer: the code at hand now, else a promise WeChat waits for (up to 3 s)
function shareMessage(title, path, code, pending) {
  if (code || !pending) return { title, path: withCode(path, code) }
  return { title, path, promise: pending.then((c) => ({ title, path: withCode(path, c) })) }
}

module.exports = { createShare, createShareInfo, withCode, codeFrom, trackOpen, shareMessage }
