const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { STATUS_TEXT } = require('../../status')
const { beijingTime } = require('../../../../utils/time')

Page({
  data: Object.assign(paging.initial(), { status: '', tabs: [
    { key: '', text: '全部' }, { key: 'pending_payment', text: '待付款' }, { key: 'paid', text: '待发货' },
    { key: 'shipped', text: '待收货' }, { key: 'completed', text: '已完成' }, { key: 'cancelled', text: '已取消' }] }),
  onLoad(options) {
    this.setData({ status: (options && options.status) || '' })
  },
  onShow() { return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    return paging.loadList(this, async (page) => {
      const input = { page, page_size: 10 }
      if (this.data.status) input.status = this.data.status
      const res = await api.call('list_orders', input)
      res.items = (res.items || []).map((o) => Object.assign({}, o, {
        statusText: STATUS_TEXT[o.status] || o.status, createdText: beijingTime(o.created_at) }))
      return res
    }, reset === true)
  },
  onTab(e) { this.setData(Object.assign(paging.initial(), { status: e.currentTarget.dataset.key })); return this.loadMore(true) },
  onRetry() { return this.loadMore(true) },
  open(e) { wx.navigateTo({ url: '/packages/order/pages/detail/detail?id=' + e.currentTarget.dataset.id }) }
})
