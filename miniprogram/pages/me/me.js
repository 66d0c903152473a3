const api = require('../../services/api')

Page({
  data: { profile: null, loading: false, error: '' },
  onShow() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const profile = await api.call('get_profile', {})
      this.setData({ profile, loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  go(e) { wx.navigateTo({ url: e.currentTarget.dataset.url }) }
})
