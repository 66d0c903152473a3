const api = require('./services/api')
const config = require('./config')

App({
  globalData: { location: null },
  onLaunch() {
    if (config.mode === 'cloud' && wx.cloud) wx.cloud.init({ env: config.cloudEnv, traceUser: true })
    // log in silently up front; api.call also logs in again on any 401
    api.ensureLogin().catch(() => {})
  }
})
