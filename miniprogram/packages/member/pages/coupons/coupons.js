const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { beijingTime } = require('../../../../utils/time')
const { couponText } = require('../../../../utils/coupon')

Page({
  data: Object.assign(paging.initial(), { status: 'available' }),
  onLoad() { return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    return paging.loadList(this, async (page) => {
      const res = await api.call('list_my_coupons', { status: this.data.status, page })
      res.items = (res.items || []).map((c) => Object.assign({}, c, { text: couponText(c), validTo: beijingTime(c.valid_to) }))
      return res
    }, reset === true)
  },
  onTab(e) { this.setData(Object.assign(paging.initial(), { status: e.currentTarget.dataset.status })); return this.loadMore(true) },
  onRetry() { return this.loadMore(true) },
  openCenter() { wx.navigateTo({ url: '/packages/member/pages/center/center' }) }
})
