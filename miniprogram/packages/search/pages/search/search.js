// Search: history (this phone's, most recent first, at most 10), the shop's hot words
// (hot_searches), and results of list_products by keyword with its sorts, paged on scroll.
const api = require('../../../../services/api')
const track = require('../../../../services/track')
const paging = require('../../../../utils/paging')

const HISTORY_KEY = 'search_history'
const MAX_HISTORY = 10
const PAGE_SIZE = 10
// the tabs: 综合 is list_products' default order; 价格 toggles between up and down
const SORTS = [
  { key: 'newest', text: '综合' },
  { key: 'sales', text: '销量' },
  { key: 'price', text: '价格' }
]

function loadHistory() {
  try {
    const list = wx.getStorageSync(HISTORY_KEY)
    return Array.isArray(list) ? list.filter((k) => typeof k === 'string' && k).slice(0, MAX_HISTORY) : []
  } catch (e) { return [] }
}

// keyword first, once, at most MAX_HISTORY kept
function remember(history, keyword) {
  return [keyword].concat(history.filter((k) => k !== keyword)).slice(0, MAX_HISTORY)
}

Page({
  data: Object.assign(paging.initial(), {
    input: '', keyword: '', history: [], hot: [], sorts: SORTS, sort: 'newest', searched: false
  }),
  onLoad(options) {
    this.setData({ history: loadHistory() })
    const hot = this.loadHot()
    const keyword = options && options.keyword ? decodeURIComponent(options.keyword) : ''
    return keyword ? Promise.all([hot, this.search(keyword)]) : hot
  },
  async loadHot() {
    try {
      const res = await api.call('hot_searches', { limit: 10 })
      this.setData({ hot: res.keywords || [] })
    } catch (e) { /* hot words are a nicety: the page works without them */ }
  },
  onInput(e) {
    const input = e.detail.value
    this.setData({ input })
    if (!input) this.setData(Object.assign(paging.initial(), { searched: false, keyword: '' }))
  },
  onConfirm(e) { return this.search((e && e.detail && e.detail.value) || this.data.input) },
  onWord(e) { return this.search(e.currentTarget.dataset.word) },
  onClear() { this.setData(Object.assign(paging.initial(), { input: '', keyword: '', searched: false })) },
  onCancel() { wx.navigateBack({ delta: 1 }) },
  clearHistory() {
    return new Promise((resolve) => {
      wx.showModal({
        title: '清空搜索历史',
        content: '确定清空全部搜索历史吗？',
        success: (res) => {
          if (res.confirm) {
            try { wx.removeStorageSync(HISTORY_KEY) } catch (e) { /* nothing kept then */ }
            this.setData({ history: [] })
          }
          resolve(!!res.confirm)
        },
        fail: () => resolve(false)
      })
    })
  },
  async search(raw) {
    const keyword = String(raw || '').replace(/\s+/g, ' ').trim().slice(0, 50)
    if (!keyword) { wx.showToast({ title: '请输入搜索内容', icon: 'none' }); return }
    const history = remember(this.data.history, keyword)
    try { wx.setStorageSync(HISTORY_KEY, history) } catch (e) { /* storage full: this visit only */ }
    this.setData(Object.assign(paging.initial(), { input: keyword, keyword, history, searched: true }))
    await this.loadMore(true)
    if (!this.data.error) track.search(keyword, this.total == null ? this.data.items.length : this.total)
  },
  // price: a first tap sorts up, the next down; the other tabs are one order each
  onSort(e) {
    const key = e.currentTarget.dataset.key
    let sort = key
    if (key === 'price') sort = this.data.sort === 'price_asc' ? 'price_desc' : 'price_asc'
    if (sort === this.data.sort || !this.data.keyword) { this.setData({ sort }); return Promise.resolve() }
    this.setData(Object.assign(paging.initial(), { sort }))
    return this.loadMore(true)
  },
  loadMore(reset) {
    return paging.loadList(this, (page) => api.call('list_products', {
      keyword: this.data.keyword, sort: this.data.sort, page, page_size: PAGE_SIZE
    }).then((res) => { if (page === 1) this.total = res.total; return res }), reset === true)
  },
  onReachBottom() { return this.data.searched ? this.loadMore() : Promise.resolve() },
  onRetry() { return this.loadMore(true) },
  onShareAppMessage() {
    const k = this.data.keyword
    return { title: k ? '搜索「' + k + '」' : '搜索好物', path: '/packages/search/pages/search/search' + (k ? '?keyword=' + encodeURIComponent(k) : '') }
  }
})
