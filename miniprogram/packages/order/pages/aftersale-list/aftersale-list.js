const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { AFTER_SALE_TEXT, TYPE_TEXT } = require('../../aftersale-status')

Page({
  data: paging.initial(),
  onLoad() { return this.loadMore(true) },
  onShow() { if (this.data.page) return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    return paging.loadList(this, async (page) => {
      const res = await api.call('list_after_sales', { page })
      res.items = (res.items || []).map((s) => Object.assign({}, s, {
        statusText: AFTER_SALE_TEXT[s.status] || s.status, typeText: TYPE_TEXT[s.type] || s.type
      }))
      return res
    }, reset === true)
  },
  onRetry() { return this.loadMore(true) },
  open(e) { wx.navigateTo({ url: '/packages/order/pages/aftersale-detail/aftersale-detail?id=' + e.currentTarget.dataset.id }) }
})
