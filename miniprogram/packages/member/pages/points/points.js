const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { beijingTime } = require('../../../../utils/time')

Page({
  data: Object.assign(paging.initial(), { balance: 0 }),
  onLoad() { return this.loadMore(true) },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    return paging.loadList(this, async (page) => {
      const res = await api.call('list_points_ledger', { page })
      this.setData({ balance: res.balance || 0 })
      res.items = (res.items || []).map((p) => Object.assign({}, p, { at: beijingTime(p.created_at) }))
      return res
    }, reset === true)
  },
  onRetry() { return this.loadMore(true) }
})
