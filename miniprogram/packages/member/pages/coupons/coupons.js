const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')

Page({
  data: Object.assign(paging.initial(), { status: 'available' }),
  onLoad() { return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    return paging.loadList(this, (page) => api.call('list_my_coupons', { status: this.data.status, page }), reset === true)
  },
  onTab(e) { this.setData(Object.assign(paging.initial(), { status: e.currentTarget.dataset.status })); return this.loadMore(true) },
  onRetry() { return this.loadMore(true) }
})
