const api = require('./services/api')
const config = require('./config')
const share = require('./services/share')
const track = require('./services/track')
const privacy = require('./services/privacy')

track.install() // page views: every page defined from here on records one on each show

App({
  globalData: { location: null, shareOpens: {} },
  onLaunch(options) {
    privacy.install() // the shop's own consent popup before location, album, camera, avatar
    // a trial/release built with placeholders (template ids, the example host) says so loudly
    const problems = config.check()
    if (problems.length) {
      const log = config.envVersion === 'develop' ? console.warn : console.error
      log('[config ' + config.envVersion + '] replace before release:\n' + problems.join('\n'))
    }
    if (config.mode === 'cloud' && wx.cloud) wx.cloud.init({ env: config.cloudEnv, traceUser: true })
    // log in silently up front; api.call also logs in again on any 401
    api.ensureLogin().catch(() => {})
    return this.trackShare(options)
  },
  onShow(options) { return this.trackShare(options) },
  onHide() { return track.flush() }, // what waits goes before the app sleeps
  // opened from a share (?s=<code>) or a mini-program code (scene): report it once per code
  trackShare(options) {
    const code = share.codeFrom(options)
    const opens = this.globalData.shareOpens
    if (!code) return Promise.resolve(null)
    if (opens[code]) return opens[code]
    opens[code] = share.trackOpen(code).then((res) => {
      if (res) this.globalData.shareOpen = res
      else delete opens[code] // not reported (offline, say): the next show tries again
      return res
    })
    return opens[code]
  }
})
