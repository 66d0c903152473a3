const api = require('../../services/api')
const paging = require('../../utils/paging')
const { withIcons } = require('../../utils/category-icons')

Page({
  data: Object.assign(paging.initial(), { categories: [], current: '', catError: '' }),
  onLoad() { return this.loadCategories() },
  onShow() {
    const app = typeof getApp === 'function' ? getApp() : null
    const wanted = app && app.globalData && app.globalData.categoryId
    if (wanted && wanted !== this.data.current) { app.globalData.categoryId = ''; this.select(wanted) }
  },
  async loadCategories() {
    try {
      const res = await api.call('list_categories', {})
      const categories = withIcons(res.items)
      this.setData({ categories, catError: '' })
      if (!this.data.current && categories.length) await this.select(categories[0].id)
      else if (!categories.length) this.setData({ empty: true })
    } catch (e) { this.setData({ catError: e.message }) }
  },
  select(id) {
    this.setData(Object.assign(paging.initial(), { current: id }))
    return this.loadMore(true)
  },
  onSelect(e) { return this.select(e.currentTarget.dataset.id) },
  loadMore(reset) { return paging.loadList(this, (page) => api.call('list_products', { page, page_size: 10, category_id: this.data.current }), reset === true) },
  onReachBottom() { return this.loadMore() },
  onRetry() { return this.data.catError ? this.loadCategories() : this.loadMore(true) }
})
