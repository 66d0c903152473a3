// The one place that says how the mini-program reaches the shop backend, chosen by the running
// version (wx.getAccountInfoSync().miniProgram.envVersion):
//   develop (WeChat DevTools, a developer's preview): the dev gateway of `make run` with its sandbox
//   trial / release (the 体验版 and the published shop): the HTTPS gateway, no sandbox
// Anything else, or a runtime without getAccountInfoSync, gets the release values: the safe side.
// mode "gateway": wx.request POST <gatewayBase>/api/<action> (the dev gateway from `make run`,
//                 or an API Gateway URL in production; add its host to the request domain list).
// mode "cloud":   wx.cloud.callFunction({name: action}) in the CloudBase environment cloudEnv.
// Tests may set fields on the exported object, as before; forEnv(name) builds another version's.

// REPLACE before uploading: the shop's HTTPS gateway host (a registered, ICP-filed domain listed
// under 开发管理 > 服务器域名 > request/uploadFile/downloadFile) and the CloudBase env id.
const PRODUCTION_GATEWAY = 'https://shop.example.com'
const PRODUCTION_CLOUD_ENV = 'your-cloud-env-id'

// subscribe-message template ids from the WeChat admin console (订阅消息 > 我的模板), one set for
// every version. Each moment asks for at most 3 templates, as wx.requestSubscribeMessage allows.
// The *_PLACEHOLDER ids must be replaced: check() reports them at launch and trial/release never
// send a placeholder to wx.requestSubscribeMessage (services/subscribe.js templatesFor).
const SUBSCRIBE_TEMPLATES = {
  order: ['TPL_ORDER_SHIPPED_PLACEHOLDER', 'TPL_ORDER_DELIVERED_PLACEHOLDER'],
  cart: ['TPL_CART_REMINDER_PLACEHOLDER'],
  member: ['TPL_COUPON_EXPIRY_PLACEHOLDER', 'TPL_CAMPAIGN_PLACEHOLDER', 'TPL_BIRTHDAY_PLACEHOLDER'],
  // the live start reminder: the template of LIVE_TEMPLATE_ID on the server
  live: ['TPL_LIVE_START_PLACEHOLDER']
}

const ENV_VERSIONS = ['develop', 'trial', 'release']

function forEnv(envVersion) {
  const env = ENV_VERSIONS.indexOf(envVersion) >= 0 ? envVersion : 'release'
  const develop = env === 'develop'
  return {
    envVersion: env,
    mode: 'gateway',
    gatewayBase: develop ? 'http://127.0.0.1:8080' : PRODUCTION_GATEWAY,
    cloudEnv: PRODUCTION_CLOUD_ENV,
    // gateway dev sandbox: log in with "dev:<name>" codes and show the 沙箱支付 button.
    dev: develop,
    // bargain campaigns shown on product pages: {product_id: bargain campaign id}. Empty hides
    // the entry.
    bargainCampaigns: {},
    subscribeTemplates: JSON.parse(JSON.stringify(SUBSCRIBE_TEMPLATES))
  }
}

function currentEnvVersion() {
  try {
    // eslint-disable-next-line no-undef
    const info = wx.getAccountInfoSync()
    return (info && info.miniProgram && info.miniProgram.envVersion) || 'release'
  } catch (e) {
    return 'release' // no wx, or an old base library: assume the published shop
  }
}

function isPlaceholder(tmplId) { return /PLACEHOLDER/i.test(String(tmplId)) }

// What would be wrong on a phone with this config (empty: nothing). The app logs it at launch.
function check(cfg) {
  const c = cfg || module.exports
  const problems = []
  if (c.envVersion !== 'develop') {
    if (c.dev) problems.push('dev sandbox is on outside develop')
    if (c.mode === 'gateway') {
      if (!/^https:\/\//.test(c.gatewayBase || '')) problems.push('gatewayBase is not https: ' + c.gatewayBase)
      if (/127\.0\.0\.1|localhost|example\.com/.test(c.gatewayBase || '')) problems.push('gatewayBase is a placeholder or local host: ' + c.gatewayBase)
    }
    if (c.mode === 'cloud' && /your-cloud-env-id/.test(c.cloudEnv || '')) problems.push('cloudEnv is a placeholder')
  }
  for (const [moment, ids] of Object.entries(c.subscribeTemplates || {})) {
    const bad = (ids || []).filter(isPlaceholder)
    if (bad.length) problems.push('subscribe templates of "' + moment + '" are placeholders, replace them: ' + bad.join(', '))
  }
  return problems
}

module.exports = Object.assign(forEnv(currentEnvVersion()), { forEnv, check, isPlaceholder, ENV_VERSIONS })
