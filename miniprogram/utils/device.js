// The mini-program's own id for this phone, kept in storage: the subject of an A/B test (and of
// tracking) before the shopper logs in. Letters, digits and '-' only (the shop's device_id).
const DEVICE_KEY = 'shop_device_id'

function deviceId() {
  let id = ''
  try { id = wx.getStorageSync(DEVICE_KEY) || '' } catch (e) { id = '' }
  if (!/^[A-Za-z0-9_.:-]{8,64}$/.test(id)) {
    id = 'dev-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
    try { wx.setStorageSync(DEVICE_KEY, id) } catch (e) { /* kept for this launch at least */ }
  }
  return id
}

module.exports = { deviceId, DEVICE_KEY }
