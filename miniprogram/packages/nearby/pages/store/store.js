const api = require('../../../../services/api')
const { getLocation, distanceText } = require('../../location')

// One store: its details and the deals running there. The list passes the store's own
// lat/lng (and the shopper's distance_m when known); without them the store is looked up
// around the shopper. Deals: nearby_deals at the store's coordinates, kept if sold at this store.
function num(v) { return v === undefined || v === null || v === '' || isNaN(Number(v)) ? null : Number(v) }

Page({
  data: { storeId: '', lat: null, lng: null, distanceM: null, store: null, distance: '', deals: [],
          loading: true, error: '', dealsError: '' },
  onLoad(options) {
    const o = options || {}
    this.setData({ storeId: o.store_id || '', lat: num(o.lat), lng: num(o.lng), distanceM: num(o.distance_m) })
    return this.load()
  },
  async load() {
    const { storeId } = this.data
    this.setData({ loading: true, error: '', dealsError: '' })
    if (!storeId) { this.setData({ loading: false, error: '缺少门店信息' }); return }
    let store = null
    let distanceM = this.data.distanceM
    try {
      if (this.data.lat !== null && this.data.lng !== null) {
        const res = await api.call('nearby_stores', { lat: this.data.lat, lng: this.data.lng, radius_m: 100, page: 1, page_size: 20 })
        store = (res.items || []).find((s) => s.id === storeId) || null
      } else {
        const loc = await getLocation()
        const res = await api.call('nearby_stores', { lat: loc.lat, lng: loc.lng, radius_m: 50000, page: 1, page_size: 50 })
        store = (res.items || []).find((s) => s.id === storeId) || null
        if (store && !loc.fallback && distanceM === null) distanceM = num(store.distance_m)
      }
    } catch (e) {
      this.setData({ loading: false, error: e.message })
      return
    }
    if (!store) { this.setData({ loading: false, error: '没有找到这家门店' }); return }
    if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: store.name })
    this.setData({ store, distance: distanceM === null ? '' : distanceText(distanceM) })
    try {
      const res = await api.call('nearby_deals', { lat: store.lat, lng: store.lng, radius_m: 100, page: 1, page_size: 50 })
      const deals = (res.items || []).filter((d) => d.store && d.store.id === storeId)
      this.setData({ deals, loading: false })
    } catch (e) {
      this.setData({ deals: [], loading: false, dealsError: e.message })
    }
  },
  onRetry() { return this.load() },
  call() {
    const s = this.data.store
    if (s && s.phone) wx.makePhoneCall({ phoneNumber: s.phone })
  },
  navigate() {
    const s = this.data.store
    if (!s) return
    wx.openLocation({ latitude: Number(s.lat), longitude: Number(s.lng), name: s.name, address: s.address })
  },
  // 去自提: "buy now" of the deal's SKU with self-pickup at this store (checkout takes sku_id, store_id and deal_id)
  pickupDeal(e) {
    const deal = this.data.deals.find((d) => d.id === e.currentTarget.dataset.id)
    if (!deal) return
    wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?sku_id=' + encodeURIComponent(deal.sku_id) +
      '&quantity=1&store_id=' + encodeURIComponent(this.data.storeId) +
      '&deal_id=' + encodeURIComponent(deal.id) })
  },
  // 购物车到店自提: check out the cart for pickup at this store
  pickupCart() { wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?store_id=' + encodeURIComponent(this.data.storeId) }) }
})
