// AR试穿: the chosen SKU's model in the camera (xr-tryon), or its fallback image where this
// phone cannot track in the asset's mode. Reached from the product page.
const api = require('../../../../services/api')
const { sceneOf, isSupported, skuWithAr, tryOnBatch } = require('../../utils')

Page({
  data: { productId: '', skuId: '', loading: true, error: '', supported: false, failed: false,
          scene: null, fallback: '', title: '', specs: '' },
  onLoad(options) {
    const o = options || {}
    this.setData({ productId: o.product_id || '', skuId: o.sku_id || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const product = await api.call('get_product', { product_id: this.data.productId })
      const sku = skuWithAr(product, this.data.skuId)
      if (!sku) {
        this.setData({ loading: false, error: '该商品暂不支持AR试穿' })
        return
      }
      const ar = sku.ar
      this.setData({
        loading: false, skuId: sku.id, title: product.title,
        specs: Object.keys(sku.specs || {}).map((k) => sku.specs[k]).join(' '),
        supported: isSupported(typeof wx !== 'undefined' ? wx : null, ar.mode),
        scene: sceneOf(ar), fallback: ar.fallback_image || sku.image || product.image || ''
      })
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  onFailed() { this.setData({ failed: true }) },
  // the model is in the camera: one try_on for merchant_ar_report (never in the shopper's way)
  onArReady() {
    if (this.tracked || !this.data.scene) return Promise.resolve()
    this.tracked = true
    const mode = this.data.scene.trackerMode.toLowerCase()
    return api.call('track_events', tryOnBatch(wx, this.data.productId, this.data.skuId, mode)).catch(() => {})
  },
  buy() {
    wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?sku_id=' + this.data.skuId + '&quantity=1' })
  }
})
