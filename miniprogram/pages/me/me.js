// Me: the shopper's avatar and nickname (WeChat's chooseAvatar and nickname input, saved by
// update_profile), order shortcuts with counts (order_counts), and the entries to the rest.
const api = require('../../services/api')
const { uploadImage } = require('../../services/upload')

// order_counts' keys -> the shortcut's text and the page it opens
const SHORTCUTS = [
  { key: 'pending_payment', text: '待付款', url: '/packages/order/pages/list/list?status=pending_payment' },
  { key: 'to_ship', text: '待发货', url: '/packages/order/pages/list/list?status=paid' },
  { key: 'to_receive', text: '待收货', url: '/packages/order/pages/list/list?status=shipped' },
  { key: 'after_sale', text: '退款/售后', url: '/packages/order/pages/aftersale-list/aftersale-list' }
]
// a badge shows at most this, then "99+"
const BADGE_MAX = 99

function withCounts(counts) {
  const c = counts || {}
  return SHORTCUTS.map((s) => {
    const n = Number(c[s.key]) || 0
    return Object.assign({}, s, { count: n, badge: n > BADGE_MAX ? BADGE_MAX + '+' : n ? String(n) : '' })
  })
}

Page({
  data: { profile: null, loading: false, error: '', shortcuts: withCounts(null), savingAvatar: false },
  onShow() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const [profile, counts] = await Promise.all([
        api.call('get_profile', {}),
        api.call('order_counts', {}).catch(() => null)   // the badges are optional
      ])
      this.setData({ profile, loading: false })
      if (counts) this.setData({ shortcuts: withCounts(counts) })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  // <button open-type="chooseAvatar">: a temporary file of the picked avatar, uploaded to our
  // storage (a temp path is only valid on this phone) and saved as the profile's avatar_url
  async onChooseAvatar(e) {
    const path = e && e.detail && e.detail.avatarUrl
    if (!path || this.data.savingAvatar) return null
    this.setData({ savingAvatar: true, 'profile.avatar_url': path })
    try {
      const fileUrl = await uploadImage(path, 'avatar')
      const profile = await api.call('update_profile', { avatar_url: fileUrl })
      this.setData({ profile, savingAvatar: false })
      return profile
    } catch (err) {
      this.setData({ savingAvatar: false })
      api.showError(err)
      return this.load()
    }
  },
  // <input type="nickname">: WeChat offers the WeChat nickname above the keyboard and, after
  // the field is left, checks the text (bindnicknamereview, base library 2.24.4+; a refused
  // one is cleared). Where that check exists the nickname is saved once it passed; elsewhere
  // on blur. Unchanged or blank: nothing is sent.
  onNickname(e) {
    const nickname = String((e && e.detail && e.detail.value) || '').trim().slice(0, 32)
    this.pendingNickname = nickname
    const reviewed = typeof wx.canIUse === 'function' && wx.canIUse('input.bindnicknamereview')
    return reviewed ? Promise.resolve(null) : this.saveNickname(nickname)
  },
  onNicknameReview(e) {
    const d = (e && e.detail) || {}
    const nickname = this.pendingNickname || ''
    this.pendingNickname = ''
    if (d.pass === false && !d.timeout) {
      wx.showToast({ title: '昵称含有不合规内容，请换一个', icon: 'none' })
      this.setData({ 'profile.nickname': (this.data.profile && this.data.profile.nickname) || '' })
      return Promise.resolve(null)
    }
    return this.saveNickname(nickname)
  },
  async saveNickname(nickname) {
    const current = this.data.profile && this.data.profile.nickname
    if (!nickname || nickname === current) return null
    try {
      const profile = await api.call('update_profile', { nickname })
      this.setData({ profile })
      wx.showToast({ title: '昵称已保存', icon: 'success' })
      return profile
    } catch (err) { api.showError(err); return null }
  },
  go(e) { wx.navigateTo({ url: e.currentTarget.dataset.url }) }
})
