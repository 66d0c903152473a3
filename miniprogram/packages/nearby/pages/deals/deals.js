const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { getLocation, distanceText } = require('../../location')

// a deal without a daily limit (remaining_today null) says nothing about what is left
function remainingText(left) {
  if (left === null || left === undefined) return ''
  return left > 0 ? '今日剩余 ' + left : '今日已抢光'
}

Page({
  data: Object.assign(paging.initial(), { kind: 'featured', location: null, fallback: false, fallbackName: '' }),
  async onLoad(options) {
    const kind = (options && options.kind) === 'today_special' ? 'today_special' : 'featured'
    if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: kind === 'featured' ? '附近精选' : '今日特惠' })
    const location = await getLocation()
    this.setData({ kind, location, fallback: location.fallback, fallbackName: location.name || '' })
    return this.loadMore(true)
  },
  onReachBottom() { return this.loadMore() },
  loadMore(reset) {
    const { lat, lng } = this.data.location
    return paging.loadList(this, async (page) => {
      const res = await api.call('nearby_deals', { lat, lng, kind: this.data.kind, page, page_size: 10, radius_m: 50000 })
      res.items = (res.items || []).map((d) => Object.assign({}, d, { distance: distanceText(d.distance_m), remainingText: remainingText(d.remaining_today) }))
      return res
    }, reset === true)
  },
  onRetry() { return this.loadMore(true) },
  openSettings() { wx.openSetting({ success: () => this.onLoad({ kind: this.data.kind }) }) },
  open(e) { wx.navigateTo({ url: '/pages/product/product?id=' + e.currentTarget.dataset.id }) }
})
