// A community for its members: the leader, the pickup store, member prices; joining through
// the leader's share (?id=<community>), and counting a group-chat open (shareTicket ->
// wx.getShareInfo -> track_group_share, which the server decrypts with the session key).
const api = require('../../../../services/api')

function shareInfo(shareTicket) {
  return new Promise((resolve) => {
    if (!shareTicket || typeof wx.getShareInfo !== 'function') return resolve(null)
    wx.getShareInfo({ shareTicket, success: resolve, fail: () => resolve(null) })
  })
}

Page({
  data: { id: '', community: null, loading: true, error: '', joining: false },
  async onLoad(options) {
    this.setData({ id: (options && options.id) || '' })
    await this.load()
    return this.trackGroup()
  },
  async load() {
    // opened without its id (a broken link or share): say so instead of the server's field error
    if (!this.data.id) { this.setData({ loading: false, error: '链接已失效，找不到这个社群' }); return }
    this.setData({ loading: true, error: '' })
    try {
      this.setData({ community: await api.call('get_community', { community_id: this.data.id }), loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  // opened from a group chat: the launch options carry a shareTicket
  async trackGroup() {
    const launch = typeof wx.getEnterOptionsSync === 'function' ? wx.getEnterOptionsSync() : {}
    const info = await shareInfo(launch && launch.shareTicket)
    if (!info || !info.encryptedData) return null
    try {
      return await api.call('track_group_share', { community_id: this.data.id, encrypted_data: info.encryptedData, iv: info.iv })
    } catch (e) { return null }
  },
  async join() {
    if (this.data.joining) return null
    this.setData({ joining: true })
    try {
      const res = await api.call('join_community', { community_id: this.data.id })
      wx.showToast({ title: '已加入社群', icon: 'success' })
      await this.load()
      return res
    } catch (e) {
      wx.showToast({ title: e.message, icon: 'none' })
      return null
    } finally { this.setData({ joining: false }) }
  },
  onShareAppMessage() {
    if (wx.showShareMenu) wx.showShareMenu({ withShareTicket: true })
    return { title: (this.data.community && this.data.community.name) || '社群团购', path: '/packages/live/pages/community/community?id=' + this.data.id }
  },
  goDashboard() { wx.navigateTo({ url: '/packages/live/pages/leader/leader' }) },
  openProduct(e) { wx.navigateTo({ url: '/pages/product/product?id=' + e.currentTarget.dataset.id }) }
})
