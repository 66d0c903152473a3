const api = require('../../services/api')
const share = require('../../services/share')
const track = require('../../services/track')
const config = require('../../config')
const { limitText, perOrderMax } = require('../../utils/limit')
const { rememberLiveSource } = require('../../utils/live')

Page({
  data: { id: '', product: null, loading: true, error: '', pickerShow: false, pickerAction: 'cart', groupBuy: null, bargainCampaignId: '', bargainFloor: null, adding: false, limitText: '', limitMax: 0, arSkuId: '' },
  onLoad(options) {
    const id = (options && options.id) || ''
    rememberLiveSource(options)  // opened from a live room: the order will say so
    // the product's running bargain is found with list_bargains (loadBargain); a campaign id in
    // config.bargainCampaigns ({product_id: id}) still shows at once and wins
    this.setData({ id, bargainCampaignId: (config.bargainCampaigns && config.bargainCampaigns[id]) || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const product = await api.call('get_product', { product_id: this.data.id })
      const arSku = (product.skus || []).find((s) => s.ar)   // AR试穿 when a SKU has a model
      this.setData({ product, loading: false, limitText: limitText(product.purchase_limit),
                     limitMax: perOrderMax(product.purchase_limit), arSkuId: arSku ? arSku.id : '' })
      if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: product.title })
      track.productView(product, 'pages/product/product')
      this.prepareShare()
      // the product already shows; the group-buy and bargain entries follow
      await Promise.all([this.loadGroupBuy(), this.loadBargain()])
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
  async loadBargain() {
    try {
      const res = await api.call('list_bargains', { product_id: this.data.id, page_size: 1 })
      const found = (res.items || [])[0]
      if (found && !this.data.bargainCampaignId) this.setData({ bargainCampaignId: found.id, bargainFloor: found.floor_price })
    } catch (e) { /* the entry is optional */ }
  },
  // make the share code ahead, so onShareAppMessage can answer at once
  prepareShare() {
    if (!this.sharePending) {
      this.sharePending = share.createShare('product', this.data.id).then((code) => {
        if (code) this.shareCode = code; else this.sharePending = null
        return code
      })
    }
    return this.sharePending
  },
  onShareAppMessage() {
    const p = this.data.product
    const title = (p && p.title) || '发现一件好物'
    const path = '/pages/product/product?id=' + encodeURIComponent(this.data.id)
    return share.shareMessage(title, path, this.shareCode, this.shareCode ? null : this.prepareShare())
  },
  // 分享到朋友圈: the timeline opens this page alone with `query`; no promise is waited for
  // there, so the share code goes in only when it is already made
  onShareTimeline() {
    const p = this.data.product
    const query = 'id=' + encodeURIComponent(this.data.id) + (this.shareCode ? '&s=' + encodeURIComponent(this.shareCode) : '')
    const answer = { title: (p && p.title) || '发现一件好物', query }
    if (p && p.images && p.images[0]) answer.imageUrl = p.images[0]
    return answer
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
      track.addToCart(this.data.id, skuId, quantity)
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
  goBargain() {
    const c = this.data.bargainCampaignId
    if (c) wx.navigateTo({ url: '/packages/social/pages/bargain/bargain?campaign_id=' + encodeURIComponent(c) })
  },
  goTryOn() {
    const sku = this.data.arSkuId
    if (sku) wx.navigateTo({ url: '/packages/ar/pages/tryon/tryon?product_id=' + encodeURIComponent(this.data.id) + '&sku_id=' + encodeURIComponent(sku) })
  },
  goCart() { wx.switchTab({ url: '/pages/cart/cart' }) },
  goAssistant() {
    const product = this.data.product || {}
    wx.navigateTo({ url: `/packages/assistant/pages/chat/chat?product_id=${product.id || ''}&product_title=${encodeURIComponent(product.title || '')}` })
  }
})
