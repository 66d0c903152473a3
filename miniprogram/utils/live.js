// Where an order comes from: the live-player plugin opens the goods page with room_id,
// share_openid and custom_params; a channels room's page passes room_id itself. The source is
// kept for a day so that the checkout that follows sends it with place_order.
const KEY = 'shop_live_source'
const TTL_MS = 24 * 3600 * 1000

function parseParams(raw) {
  if (!raw) return {}
  if (typeof raw === 'object') return raw
  try { return JSON.parse(decodeURIComponent(raw)) } catch (e) { return {} }
}

// page options -> remembered source (or null when the page was not opened from a room)
function rememberLiveSource(options, now) {
  const o = options || {}
  const params = parseParams(o.custom_params)
  const roomId = params.room_id || params.shop_room_id || o.live_room_id || ''
  if (!roomId) return null
  const source = { type: 'live', room_id: String(roomId) }
  if (o.share_openid) source.share_openid = String(o.share_openid)
  try { wx.setStorageSync(KEY, { source, at: now || Date.now() }) } catch (e) { return source }
  return source
}

function liveSource(now) {
  let kept = null
  try { kept = wx.getStorageSync(KEY) } catch (e) { return null }
  if (!kept || !kept.source || (now || Date.now()) - kept.at > TTL_MS) return null
  return kept.source
}

// the plugin's player page for a plugin room; custom_params carries our own room id back
function pluginUrl(room) {
  const params = encodeURIComponent(JSON.stringify({ room_id: room.id }))
  return 'plugin-private://wx2b03c6e691cd7370/pages/live-player-plugin?room_id=' +
    room.external_id + '&custom_params=' + params
}

const STATUS_TEXT = { upcoming: '预告', live: '直播中', ended: '已结束' }

module.exports = { rememberLiveSource, liveSource, pluginUrl, STATUS_TEXT, KEY }
