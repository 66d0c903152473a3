const api = require('../../../../services/api')
const { requestSubscribe } = require('../../../../services/subscribe')
const { levelName, nextLevelText } = require('../../../../utils/levels')

Page({
  data: { membership: null, loading: true, error: '', signing: false },
  onLoad() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const membership = await api.call('get_membership', {})
      this.setData({ membership, levelName: levelName(membership.level), nextText: nextLevelText(membership.next_level), loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  async signIn() {
    if (this.data.signing) return
    this.setData({ signing: true })
    try {
      await api.call('sign_in', {})
      wx.showToast({ title: '签到成功', icon: 'success' })
      await this.load()
    } catch (e) {
      wx.showToast({ title: e.code === 'CONFLICT' || e.code === 'INVALID_STATE' ? '今天已经签到过了' : e.message, icon: 'none' })
    } finally { this.setData({ signing: false }) }
  },
  // the 订阅提醒 button: coupon expiry, campaigns, birthday
  async subscribe() {
    const res = await requestSubscribe('member')
    wx.showToast({ title: res && res.accepted && res.accepted.length ? '订阅成功' : '未订阅', icon: 'none' })
    return res
  },
  goPoints() { wx.navigateTo({ url: '/packages/member/pages/points/points' }) },
  goCoupons() { wx.navigateTo({ url: '/packages/member/pages/coupons/coupons' }) }
})
