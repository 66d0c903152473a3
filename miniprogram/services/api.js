// One way to call the shop: call(action, data) -> Promise<data>, rejecting with an Error whose
// .message is a Chinese sentence fit for the user (error.message_zh, or by code), never raw.
const config = require('../config')

const TOKEN_KEY = 'shop_token'
const DEV_NAME_KEY = 'shop_dev_name'

const MESSAGES = {
  BAD_REQUEST: '请求格式错误',
  UNAUTHENTICATED: '请先登录',
  INVALID_CODE: '登录凭证无效，请重新登录',
  FORBIDDEN: '没有权限',
  NOT_FOUND: '内容不存在',
  CONFLICT: '操作冲突，请刷新后重试',
  INVALID_STATE: '当前状态不允许此操作',
  OUT_OF_STOCK: '库存不足',
  PURCHASE_LIMIT: '超出限购数量',
  TOO_MANY_UNPAID: '待支付的订单太多，请先支付或取消',
  PRODUCT_UNAVAILABLE: '商品已下架',
  COUPON_UNAVAILABLE: '优惠券不可用',
  REFUND_EXCEEDS_PAID: '这些商品已退款或已在售后中',
  VALIDATION_ERROR: '输入有误',
  RATE_LIMITED: '操作太频繁，请稍后再试',
  PAYMENT_UNAVAILABLE: '微信支付暂时不可用，请稍后再试',
  UPSTREAM_ERROR: '微信服务暂时不可用，请稍后再试',
  NETWORK: '网络不给力，请检查网络后重试',
  INTERNAL: '服务器开小差了，请稍后再试'
}
const FALLBACK = '服务器开小差了，请稍后再试'

function hasChinese(s) { return typeof s === 'string' && /[\u4e00-\u9fa5]/.test(s) }

function userMessage(error) {
  const e = error || {}
  if (hasChinese(e.message_zh)) return e.message_zh
  return MESSAGES[e.code] || FALLBACK
}

function ShopError(error, status) {
  const e = error || {}
  const err = new Error(userMessage(e))
  err.code = e.code || 'INTERNAL'
  err.status = status || 0
  err.details = e.details || {}
  err.userMessage = err.message
  return err
}

function getToken() { try { return wx.getStorageSync(TOKEN_KEY) || '' } catch (e) { return '' } }
function setToken(token) { wx.setStorageSync(TOKEN_KEY, token || '') }

function devName() {
  let name = wx.getStorageSync(DEV_NAME_KEY)
  if (!name) {
    name = 'mp' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8)
    wx.setStorageSync(DEV_NAME_KEY, name)
  }
  return name
}

// one raw round trip -> {status, body} where body is the envelope
function transport(action, data, token) {
  return new Promise((resolve) => {
    if (config.mode === 'cloud') {
      const payload = Object.assign({}, data || {})
      if (token) payload._token = token
      wx.cloud.callFunction({
        name: action,
        data: payload,
        success: (res) => {
          const body = res && res.result
          const code = body && body.error && body.error.code
          resolve({ status: code === 'UNAUTHENTICATED' || code === 'INVALID_CODE' ? 401 : 200, body })
        },
        fail: () => resolve({ status: 0, body: null })
      })
      return
    }
    const header = { 'Content-Type': 'application/json' }
    if (token) header.Authorization = 'Bearer ' + token
    wx.request({
      url: config.gatewayBase.replace(/\/$/, '') + '/api/' + action,
      method: 'POST',
      data: data || {},
      header,
      success: (res) => {
        let body = res.data
        if (typeof body === 'string') { try { body = JSON.parse(body) } catch (e) { body = null } }
        resolve({ status: res.statusCode, body })
      },
      fail: () => resolve({ status: 0, body: null })
    })
  })
}

function unwrap(res) {
  const body = res.body
  if (body && body.ok === true) return body.data
  if (body && body.ok === false) throw ShopError(body.error, res.status)
  if (res.status === 0) throw ShopError({ code: 'NETWORK' }, 0)
  throw ShopError({ code: 'INTERNAL' }, res.status)
}

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => resolve(res.code),
      fail: () => reject(ShopError({ code: 'UNAUTHENTICATED', message_zh: '微信登录失败，请重试' }))
    })
  })
}

let loggingIn = null
function login() {
  if (loggingIn) return loggingIn
  loggingIn = (async () => {
    const code = (config.mode === 'gateway' && config.dev) ? 'dev:' + devName() : await wxLoginCode()
    const data = unwrap(await transport('login', { code }, ''))
    setToken(data.token)
    return data
  })()
  const done = () => { loggingIn = null }
  loggingIn.then(done, done)
  return loggingIn
}

async function call(action, data) {
  let res = await transport(action, data, getToken())
  if (res.status === 401 && action !== 'login') {
    setToken('')
    await login()
    res = await transport(action, data, getToken())
  }
  return unwrap(res)
}

function ensureLogin() { return getToken() ? Promise.resolve() : login() }

function showError(err) {
  const title = (err && err.userMessage) || FALLBACK
  wx.showToast({ title, icon: 'none' })
}

module.exports = { call, login, ensureLogin, getToken, setToken, userMessage, showError, TOKEN_KEY }
