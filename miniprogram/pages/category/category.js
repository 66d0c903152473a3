const api = require('../../services/api')
const paging = require('../../utils/paging')
const { withIcons } = require('../../utils/category-icons')

Page({
  data: Object.assign(paging.initial(), { categories: [], current: '', catError: '' }),
  // a shared category opens on that category (?id=)
  onLoad(options) {
    if (options && options.id) this.setData({ current: String(options.id) })
    return this.loadCategories().then(() => (options && options.id ? this.select(String(options.id)) : null))
  },
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
  onShareAppMessage() {
    const id = this.data.current
    const found = this.data.categories.find((c) => c.id === id)
    return { title: found ? found.name + ' · 好物小店' : '好物小店 · 全部分类', path: '/pages/category/category' + (id ? '?id=' + encodeURIComponent(id) : '') }
  },
  onRetry() { return this.data.catError ? this.loadCategories() : this.loadMore(true) }
})
