// A small hand-written `wx` double: storage in memory, every call recorded in wx.calls,
// wx.request answered by the `request` function given (a fake or the real gateway).
function createWx(options) {
  const opts = options || {}
  const storage = {}
  const calls = []
  const record = (name, arg) => { calls.push({ name, arg }) }
  const wx = {
    calls,
    storage,
    getStorageSync: (k) => (k in storage ? storage[k] : ''),
    setStorageSync: (k, v) => { storage[k] = v },
    removeStorageSync: (k) => { delete storage[k] },
    login: (o) => { record('login', o); o.success({ code: opts.loginCode || 'wx-code-1' }) },
    request: (o) => {
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
    openSetting: (o) => record('openSetting', o),
    setNavigationBarTitle: () => {},
    stopPullDownRefresh: () => {}
  }
  wx.named = (name) => calls.filter((c) => c.name === name).map((c) => c.arg)
  return wx
}

module.exports = { createWx }
