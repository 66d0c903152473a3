// The shop's privacy consent popup (see services/privacy.js): shown when WeChat pauses a private
// API, it opens the agreement with wx.openPrivacyContract and answers agree / disagree.
const privacy = require('../../services/privacy')

Component({
  data: { show: false, purpose: '', contractName: '《隐私保护指引》', agreeId: privacy.AGREE_BUTTON_ID },
  lifetimes: {
    attached() {
      this.unregister = privacy.register((info) => this.open(info))
      if (typeof wx !== 'undefined' && typeof wx.getPrivacySetting === 'function') {
        wx.getPrivacySetting({ success: (res) => { if (res && res.privacyContractName) this.setData({ contractName: res.privacyContractName }) } })
      }
    },
    detached() { if (this.unregister) this.unregister() }
  },
  methods: {
    open(info) { this.setData({ show: true, purpose: info.purpose }) },
    openContract() { wx.openPrivacyContract({ fail: () => wx.showToast({ title: '隐私保护指引打开失败，请稍后再试', icon: 'none' }) }) },
    // bindagreeprivacyauthorization: the agree button's own tap, as WeChat checks it was tapped
    onAgree() {
      this.setData({ show: false })
      privacy.agree()
      this.triggerEvent('answer', { event: 'agree' })
    },
    onDisagree() {
      this.setData({ show: false })
      privacy.disagree()
      this.triggerEvent('answer', { event: 'disagree' })
    }
  }
})
