const api = require('../../services/api')

Page({
  data: { id: '', product: null, loading: true, error: '', pickerShow: false, pickerAction: 'cart', groupBuy: null, adding: false },
  onLoad(options) {
    this.setData({ id: (options && options.id) || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const product = await api.call('get_product', { product_id: this.data.id })
      this.setData({ product, loading: false })
      if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: product.title })
      this.loadGroupBuy()
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  async loadGroupBuy() {
    try {
      const res = await api.call('list_group_buys', {})
      const found = (res.items || []).find((g) => g.product && g.product.id === this.data.id) || null
      this.setData({ groupBuy: found })
    } catch (e) { /* the entry is optional */ }
  },
  openCart() { this.setData({ pickerShow: true, pickerAction: 'cart' }) },
  openBuy() { this.setData({ pickerShow: true, pickerAction: 'buy' }) },
  closePicker() { this.setData({ pickerShow: false }) },
  onPickerConfirm(e) {
    const { sku_id, quantity, action } = e.detail
    this.setData({ pickerShow: false })
    if (action === 'buy') {
      wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?sku_id=' + sku_id + '&quantity=' + quantity })
      return Promise.resolve()
    }
    return this.addToCart(sku_id, quantity)
  },
  async addToCart(skuId, quantity) {
    if (this.data.adding) return
    this.setData({ adding: true })
    try {
      await api.call('cart_add', { sku_id: skuId, quantity: quantity || 1 })
      wx.showToast({ title: '已加入购物车', icon: 'success' })
    } catch (e) {
      api.showError(e)
    } finally {
      this.setData({ adding: false })
    }
  },
  goGroupBuy() {
    const g = this.data.groupBuy
    if (g) wx.navigateTo({ url: '/packages/social/pages/team/team?campaign_id=' + g.id })
  },
  goBargain() { wx.showToast({ title: '砍价活动即将上线', icon: 'none' }) },
  goCart() { wx.switchTab({ url: '/pages/cart/cart' }) }
})
