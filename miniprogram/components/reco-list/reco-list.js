// A recommendation strip: 猜你喜欢 (home, paged), 看了又看 (product), 凑单推荐 (cart).
// It asks recommend_for_user itself, so a page only places it; it hides when there is nothing
// to show or the call fails (a recommendation is never worth an error on the page).
const api = require('../../services/api')
// the reco_algorithm A/B test's subject before login (the same id as tracking's)
const { deviceId } = require('../../utils/device')

Component({
  properties: {
    context: { type: String, value: 'home' }, // home | cart | product | order_done
    productId: { type: String, value: '' },
    title: { type: String, value: '猜你喜欢' },
    pageSize: { type: Number, value: 6 },
    paged: { type: Boolean, value: false } // show 加载更多 while pages come full
  },
  data: { items: [], page: 0, more: false, loading: false },
  lifetimes: {
    attached() { return this.load() }
  },
  methods: {
    load() {
      if (this.data.loading) return Promise.resolve()
      const page = this.data.page + 1
      const req = { context: this.data.context, page, page_size: this.data.pageSize, device_id: deviceId() }
      if (this.data.productId) req.product_id = this.data.productId
      this.setData({ loading: true })
      return api.call('recommend_for_user', req).then((data) => {
        const fresh = (data.items || []).map((i) => Object.assign({}, i.product, { reason: i.reason }))
        this.setData({
          items: this.data.items.concat(fresh),
          page,
          loading: false,
          more: this.data.paged && fresh.length === this.data.pageSize
        })
      }, () => this.setData({ loading: false, more: false }))
    },
    reload() {
      this.setData({ items: [], page: 0, more: false })
      return this.load()
    },
    onMore() { return this.load() }
  }
})
