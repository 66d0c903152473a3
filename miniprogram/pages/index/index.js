const api = require('../../services/api')
const experiments = require('../../services/experiments')
const paging = require('../../utils/paging')

// the home feed's A/B test (merchant: shopctl experiments create home_layout --variant grid
// --variant list): two columns of cards, or one row per product
const LAYOUTS = ['grid', 'list']
const SHARE_TITLE = '好物小店，新鲜好货每天上新'

Page({
  data: Object.assign(paging.initial(), {
    banners: [], categories: [], catError: '', layout: 'grid'
  }),
  onLoad() { return Promise.all([this.loadLayout(), this.refresh()]) },
  loadLayout() {
    return experiments.variant('home_layout', LAYOUTS, 'grid').then((layout) => this.setData({ layout }))
  },
  onPullDownRefresh() { this.refresh().then(() => wx.stopPullDownRefresh()) },
  onReachBottom() { return this.loadMore() },
  refresh() {
    return Promise.all([this.loadCategories(), paging.loadList(this, (page) => api.call('list_products', { page, page_size: 10, sort: 'sales' }), true)])
      .then(() => this.setData({ banners: this.data.items.slice(0, 3) }))
  },
  loadMore() { return paging.loadList(this, (page) => api.call('list_products', { page, page_size: 10, sort: 'sales' }), false) },
  async loadCategories() {
    try {
      const res = await api.call('list_categories', {})
      this.setData({ categories: res.items || [], catError: '' })
    } catch (e) { this.setData({ catError: e.message }) }
  },
  onRetry() { this.refresh() },
  goCategory(e) { wx.switchTab({ url: '/pages/category/category' }); getApp().globalData.categoryId = e.currentTarget.dataset.id },
  goCampaigns() { wx.navigateTo({ url: '/packages/social/pages/campaigns/campaigns' }) },
  goNearby(e) { wx.navigateTo({ url: '/packages/nearby/pages/deals/deals?kind=' + e.currentTarget.dataset.kind }) },
  goProduct(e) { wx.navigateTo({ url: '/pages/product/product?id=' + e.currentTarget.dataset.id }) },
  goSearch() { wx.navigateTo({ url: '/packages/search/pages/search/search' }) },
  // the shop's front page: no share code (create_share names a product, team or campaign)
  onShareAppMessage() { return { title: SHARE_TITLE, path: '/pages/index/index' } }
})
