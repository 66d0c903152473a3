// 领券中心: claimable coupon templates (list_coupons) with a claim button (claim_coupon).
const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { couponText } = require('../../../../utils/coupon')
const { beijingTime } = require('../../../../utils/time')

function decorate(c) {
  const mine = c.claimed_by_me || 0
  const soldOut = c.remaining != null && c.remaining <= 0
  const limitReached = c.per_user_limit != null && mine >= c.per_user_limit
  return Object.assign({}, c, {
    text: couponText(c), validTo: beijingTime(c.valid_to), claimedByMe: mine, canClaim: !soldOut && !limitReached,
    buttonText: limitReached ? '已领取' : (soldOut ? '已抢光' : (mine ? '再领一张' : '立即领取'))
  })
}

Page({
  data: Object.assign(paging.initial(), { claiming: '' }),
  onLoad() { return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  onPullDownRefresh() { return this.loadMore(true).then(() => wx.stopPullDownRefresh()) },
  loadMore(reset) {
    return paging.loadList(this, async (page) => {
      const res = await api.call('list_coupons', { page })
      res.items = (res.items || []).map(decorate)
      return res
    }, reset === true)
  },
  onRetry() { return this.loadMore(true) },
  async claim(e) {
    const id = e.currentTarget.dataset.id
    const index = this.data.items.findIndex((c) => c.id === id)
    if (index < 0 || this.data.claiming || !this.data.items[index].canClaim) return null
    this.setData({ claiming: id })
    try {
      const mine = await api.call('claim_coupon', { coupon_id: id })
      const c = this.data.items[index]
      this.setData({ ['items[' + index + ']']: decorate(Object.assign({}, c, {
        claimed_by_me: (c.claimed_by_me || 0) + 1,
        remaining: c.remaining != null ? c.remaining - 1 : c.remaining
      })) })
      wx.showToast({ title: '领取成功', icon: 'success' })
      return mine
    } catch (err) {
      api.showError(err)
      return null
    } finally {
      this.setData({ claiming: '' })
    }
  },
  openMine() { wx.navigateTo({ url: '/packages/member/pages/coupons/coupons' }) }
})
