const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { getLocation, distanceText } = require('../../location')

Page({
  data: Object.assign(paging.initial(), { location: null, fallback: false, fallbackName: '' }),
  async onLoad() {
    const location = await getLocation()
    this.setData({ location, fallback: location.fallback, fallbackName: location.name || '' })
    return this.loadMore(true)
  },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    const { lat, lng } = this.data.location
    return paging.loadList(this, async (page) => {
      const res = await api.call('nearby_stores', { lat, lng, page, page_size: 10, radius_m: 50000 })
      res.items = (res.items || []).map((s) => Object.assign({}, s, { distance: distanceText(s.distance_m) }))
      return res
    }, reset === true)
  },
  onRetry() { return this.loadMore(true) },
  // 到店自提: check out the cart for pickup at this store
  pickup(e) { wx.navigateTo({ url: '/packages/order/pages/checkout/checkout?store_id=' + e.currentTarget.dataset.id }) },
  // store page: the store's own coordinates, and the shopper's distance when really located
  open(e) {
    const s = this.data.items.find((x) => x.id === e.currentTarget.dataset.id)
    if (!s) return
    let url = '/packages/nearby/pages/store/store?store_id=' + encodeURIComponent(s.id)
    if (s.lat != null && s.lng != null) url += '&lat=' + s.lat + '&lng=' + s.lng
    if (s.distance_m != null && !this.data.fallback) url += '&distance_m=' + s.distance_m
    wx.navigateTo({ url })
  },
  openSettings() { wx.openSetting({ success: () => this.onLoad() }) }
})
