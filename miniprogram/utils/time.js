// Times in the shop are UTC ISO strings; shoppers read them in Beijing time (UTC+8), whatever
// the phone's own timezone: the offset is added by hand and read back with getUTC*.
const BEIJING_MS = 8 * 3600 * 1000

function pad(n) { return (n < 10 ? '0' : '') + n }

// -> epoch ms, or NaN. The server writes "2026-01-01T04:30:00.123456Z"; iOS's JavaScriptCore
// refuses more than 3 fraction digits, and a string with no zone is UTC here.
function parseUtc(iso) {
  if (typeof iso !== 'string' || !iso) return NaN
  let text = iso.trim().replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1')
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text)) text += 'Z'
  return Date.parse(text)
}

// "YYYY-MM-DD HH:mm" in Beijing time; '' for an empty or unreadable time
function beijingTime(iso) {
  const ms = parseUtc(iso)
  if (!isFinite(ms)) return ''
  const d = new Date(ms + BEIJING_MS)
  return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
    pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes())
}

module.exports = { beijingTime, parseUtc }
