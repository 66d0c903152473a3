// Privacy (app.json "__usePrivacyCheck__": true): before the first location, album, camera,
// address or avatar use, WeChat pauses the API and fires wx.onNeedPrivacyAuthorization; the shop
// shows its own popup (components/privacy-popup) and answers resolve({event: 'agree', buttonId})
// after the <button open-type="agreePrivacyAuthorization"> tap, or resolve({event: 'disagree'})
// (the paused API then fails with "privacy permission is not authorized" and the page's own
// fallback runs, e.g. the city-centre stores). Pages that use such an API put <privacy-popup />
// in their WXML (registered app-wide in app.json usingComponents).
const AGREE_BUTTON_ID = 'privacy-agree'

// what the shopper is told the data is for, by the API that asked (eventInfo.referrer)
const PURPOSES = {
  getLocation: '定位（推荐附近门店和优惠）',
  chooseLocation: '定位（选择收货位置）',
  chooseAddress: '微信收货地址',
  chooseMedia: '相册或相机（售后凭证、头像）',
  chooseImage: '相册或相机（售后凭证）',
  camera: '摄像头（AR 试戴）',
  'button.chooseAvatar': '头像',
  'input.type.nickname': '昵称'
}

const state = { pending: [], popups: [] }

function purposeOf(referrer) {
  const r = String(referrer || '')
  return PURPOSES[r] || PURPOSES[r.replace(/^wx\./, '')] || '相关功能'
}

// WeChat pauses an API: hand it to the popup on screen (the newest one mounted), or refuse when
// no page shows one (the API fails, the page falls back) rather than hang the API forever
function onNeed(resolve, eventInfo) {
  const referrer = (eventInfo && eventInfo.referrer) || ''
  const popup = state.popups[state.popups.length - 1]
  if (!popup) {
    resolve({ event: 'disagree' })
    return
  }
  state.pending.push(resolve)
  resolve({ event: 'exposureAuthorization' })
  popup({ referrer, purpose: purposeOf(referrer) })
}

function install() {
  if (typeof wx === 'undefined' || typeof wx.onNeedPrivacyAuthorization !== 'function') return false
  wx.onNeedPrivacyAuthorization(onNeed)
  return true
}

// a mounted popup: show(info) is called when WeChat needs the shopper's consent
function register(show) {
  state.popups.push(show)
  return () => { state.popups = state.popups.filter((p) => p !== show) }
}

function answer(result) {
  const waiting = state.pending.splice(0)
  for (const resolve of waiting) resolve(result)
  return waiting.length
}

const agree = () => answer({ buttonId: AGREE_BUTTON_ID, event: 'agree' })
const disagree = () => answer({ event: 'disagree' })

module.exports = { install, register, agree, disagree, purposeOf, onNeed, AGREE_BUTTON_ID }
