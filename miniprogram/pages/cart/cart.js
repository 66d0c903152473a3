const api = require('../../services/api')
const { requestSubscribe } = require('../../services/subscribe')

Page({
  data: { items: [], selectedCount: 0, selectedTotal: 0, loading: false, error: '', empty: false },
  onShow() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const res = await api.call('cart_list', {})
      this.apply(res)
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  apply(res) {
    const items = res.items || []
    this.setData({ items, selectedCount: res.selected_count || 0, selectedTotal: res.selected_total || 0, loading: false, empty: items.length === 0 })
  },
  async update(skuId, patch) {
    try {
      const res = await api.call('cart_update', Object.assign({ sku_id: skuId }, patch))
      if (res && res.items) this.apply(res); else await this.load()
    } catch (e) { api.showError(e) }
  },
  onToggle(e) {
    const item = this.data.items.find((i) => i.sku_id === e.currentTarget.dataset.sku)
    if (item) return this.update(item.sku_id, { selected: !item.selected })
  },
  onMinus(e) {
    const item = this.data.items.find((i) => i.sku_id === e.currentTarget.dataset.sku)
    if (item && item.quantity > 1) return this.update(item.sku_id, { quantity: item.quantity - 1 })
  },
  onPlus(e) {
    const item = this.data.items.find((i) => i.sku_id === e.currentTarget.dataset.sku)
    if (item) return this.update(item.sku_id, { quantity: item.quantity + 1 })
  },
  async onRemove(e) {
    try {
      await api.call('cart_remove', { sku_ids: [e.currentTarget.dataset.sku] })
      await this.load()
    } catch (err) { api.showError(err) }
  },
  // the 结算 tap: the moment to offer the cart reminder (subscribe asks need the user's tap, so
  // not onHide), fire and forget
  checkout() {
    if (!this.data.selectedCount) { wx.showToast({ title: '请选择商品', icon: 'none' }); return }
    requestSubscribe('cart')
    wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?from=cart' })
  },
  goShopping() { wx.switchTab({ url: '/pages/index/index' }) }
})
