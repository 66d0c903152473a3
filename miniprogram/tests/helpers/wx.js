// A small hand-written `wx` double: storage in memory, every call recorded in wx.calls,
// wx.request answered by the `request` function given (a fake or the real gateway).
// Stricter than the old one, as a phone is:
// - tap-only APIs (TAP_ONLY) fail with WeChat's errMsg unless called synchronously inside a tap:
//   run a handler as the user's tap with wx.tap(fn, ...args) (render-page.js's tap() does);
//   the gesture ends when the handler's synchronous part returns (an await ends it, as on a device)
// - options.envVersion ('develop' by default; 'trial' / 'release'): what getAccountInfoSync says;
//   outside develop, http:// URLs are refused by request/uploadFile/downloadFile, as the domain
//   list of a published mini-program only holds https hosts
const TAP_ONLY = ['requestSubscribeMessage', 'openSetting']
const TAP_ERR = ':fail can only be invoked by user TAP gesture.'

function createWx(options) {
  const opts = options || {}
  const storage = {}
  const calls = []
  const record = (name, arg) => { calls.push({ name, arg }) }
  const envVersion = opts.envVersion || 'develop'
  let tapDepth = 0
  const refused = []
  // a tap-only API outside a tap: fail as WeChat does (and remember it for tests)
  const outsideTap = (name, o) => {
    if (tapDepth > 0) return false
    record(name, o)
    refused.push(name)
    const err = { errMsg: name + TAP_ERR }
    if (o && o.fail) o.fail(err)
    if (o && o.complete) o.complete(err)
    return true
  }
  // outside develop only https:// hosts are reachable
  const insecure = (name, o) => {
    if (envVersion === 'develop' || !/^http:\/\//i.test((o && o.url) || '')) return false
    record(name, o)
    const err = { errMsg: name + ':fail url not in domain list' }
    if (o && o.fail) o.fail(err)
    return true
  }
  const wx = {
    calls,
    storage,
    refused,
    // run fn as the user's tap: tap-only APIs work during its synchronous part only
    tap: (fn, ...args) => {
      tapDepth++
      try { return fn(...args) } finally { tapDepth-- }
    },
    inTap: () => tapDepth > 0,
    getAccountInfoSync: () => ({ miniProgram: { appId: 'wx0000000000000000', envVersion, version: '' } }),
    getStorageSync: (k) => (k in storage ? storage[k] : ''),
    setStorageSync: (k, v) => { storage[k] = v },
    removeStorageSync: (k) => { delete storage[k] },
    login: (o) => { record('login', o); o.success({ code: opts.loginCode || 'wx-code-1' }) },
    request: (o) => {
      if (insecure('request', o)) return
      record('request', o)
      Promise.resolve()
        .then(() => opts.request(o))
        .then((res) => o.success && o.success(res), (err) => o.fail && o.fail({ errMsg: 'request:fail ' + err }))
    },
    cloud: {
      init: () => {},
      callFunction: (o) => {
        record('callFunction', o)
        Promise.resolve().then(() => opts.callFunction(o)).then((r) => o.success(r), (e) => o.fail({ errMsg: String(e) }))
      }
    },
    requestPayment: (o) => {
      record('requestPayment', o)
      const outcome = opts.payment || 'success'
      if (outcome === 'success') o.success({ errMsg: 'requestPayment:ok' })
      else o.fail({ errMsg: 'requestPayment:fail ' + outcome })
    },
    // options.subscribe: a {tmplId: 'accept'|'reject'...} answer, 'fail', or a function(o)
    requestSubscribeMessage: (o) => {
      if (outsideTap('requestSubscribeMessage', o)) return
      record('requestSubscribeMessage', o)
      const s = opts.subscribe
      if (typeof s === 'function') return s(o)
      if (!s || s === 'fail') return o.fail && o.fail({ errMsg: 'requestSubscribeMessage:fail cancel' })
      o.success(Object.assign({ errMsg: 'requestSubscribeMessage:ok' }, s))
    },
    getLocation: (o) => {
      record('getLocation', o)
      if (opts.location) o.success(opts.location)
      else o.fail({ errMsg: 'getLocation:fail auth deny' })
    },
    // options.media: the tempFilePaths wx.chooseMedia picks (none: the user cancels)
    chooseMedia: (o) => {
      record('chooseMedia', o)
      if (!opts.media) return o.fail && o.fail({ errMsg: 'chooseMedia:fail cancel' })
      o.success({ type: 'image', tempFiles: opts.media.map((p) => ({ tempFilePath: p, size: 1, fileType: 'image' })) })
    },
    // options.files: {tempFilePath: bytes}; reading any other path throws, as the real one does
    getFileSystemManager: () => ({
      readFileSync: (p) => {
        record('readFileSync', p)
        const files = opts.files || {}
        if (!(p in files)) throw new Error('readFileSync:fail no such file ' + p)
        return files[p]
      }
    }),
    previewImage: (o) => record('previewImage', o),
    setClipboardData: (o) => { record('setClipboardData', o); if (o.success) o.success({ errMsg: 'setClipboardData:ok' }) },
    navigateBack: (o) => record('navigateBack', o),
    showToast: (o) => record('showToast', o),
    // options.modalConfirm: false taps cancel; otherwise the user taps the confirm button
    showModal: (o) => {
      record('showModal', o)
      const confirm = opts.modalConfirm !== false
      if (o.success) o.success({ confirm, cancel: !confirm })
    },
    showLoading: () => {}, hideLoading: () => {},
    navigateTo: (o) => record('navigateTo', o),
    redirectTo: (o) => record('redirectTo', o),
    switchTab: (o) => record('switchTab', o),
    openSetting: (o) => { if (!outsideTap('openSetting', o)) record('openSetting', o) },
    uploadFile: (o) => {
      if (insecure('uploadFile', o)) return
      record('uploadFile', o)
      if (opts.uploadFile) Promise.resolve().then(() => opts.uploadFile(o)).then((r) => o.success && o.success(r), (e) => o.fail && o.fail({ errMsg: 'uploadFile:fail ' + e }))
    },
    downloadFile: (o) => {
      if (insecure('downloadFile', o)) return
      record('downloadFile', o)
      if (o.success) o.success({ tempFilePath: 'wxfile://tmp/' + String(o.url).split('/').pop(), statusCode: 200 })
    },
    // privacy: wx.needPrivacy(referrer) plays WeChat pausing a private API (first use, no consent
    // yet): it calls the onNeedPrivacyAuthorization listener and resolves with the answers given
    onNeedPrivacyAuthorization: (fn) => { record('onNeedPrivacyAuthorization', fn); wx.privacyListener = fn },
    needPrivacy: (referrer) => {
      const answers = []
      if (!wx.privacyListener) return Promise.resolve([{ event: 'platform-popup' }])
      return new Promise((done) => {
        wx.privacyListener((a) => { answers.push(a); if (a.event !== 'exposureAuthorization') done(answers) }, { referrer })
      })
    },
    openPrivacyContract: (o) => { record('openPrivacyContract', o); if (o && o.success) o.success({ errMsg: 'openPrivacyContract:ok' }) },
    getPrivacySetting: (o) => { record('getPrivacySetting', o); if (o && o.success) o.success({ needAuthorization: true, privacyContractName: '《小店隐私保护指引》' }) },
    setNavigationBarTitle: () => {},
    stopPullDownRefresh: () => {}
  }
  wx.named = (name) => calls.filter((c) => c.name === name).map((c) => c.arg)
  return wx
}

module.exports = { createWx, TAP_ONLY }
