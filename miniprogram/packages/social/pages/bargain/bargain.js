const api = require('../../../../services/api')
const { friendHelpMethods } = require('../../friend-help')
const { formatFen } = require('../../../../utils/money')

function requestId() {
  return 'brg-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
}

function progressOf(b) {
  const total = b.start_price - b.floor_price
  if (!(total > 0)) return 100
  return Math.max(0, Math.min(100, Math.round((b.start_price - b.current_price) * 100 / total)))
}

// ?id=<bargain id> shows a bargain (the owner's or a friend's); ?campaign_id=... starts the
// caller's bargain on that campaign (or answers with the one already running).
Page(Object.assign({
  data: { id: '', campaignId: '', bargain: null, progress: 0, cutText: '', loading: true, error: '', helping: false, buying: false, requestId: '' },
  onLoad(options) {
    const o = options || {}
    this.setData({ id: o.id || '', campaignId: o.campaign_id || '', requestId: requestId() })
    return this.load()
  },
  show(bargain) {
    this.setData({ bargain, id: bargain.id, progress: progressOf(bargain), cutText: formatFen(bargain.start_price - bargain.current_price) })
  },
  async defaultAddress() {
    const res = await api.call('list_addresses', {})
    const items = (res && res.items) || []
    return items.find((a) => a.is_default) || items[0] || null
  },
  // 立即购买 (the owner) -> the order detail to pay
  async buy() {
    const b = this.data.bargain
    if (!b || !b.is_mine || this.data.buying) return null
    if (b.order_id) { wx.navigateTo({ url: '/packages/order/pages/detail/detail?id=' + b.order_id }); return null }
    this.setData({ buying: true })
    try {
      const address = await this.defaultAddress()
      if (!address) { wx.showToast({ title: '请先添加收货地址', icon: 'none' }); return null }
      const order = await api.call('buy_bargain', { bargain_id: b.id, request_id: this.data.requestId, address_id: address.id })
      wx.navigateTo({ url: '/packages/order/pages/detail/detail?id=' + order.id })
      return order
    } catch (e) {
      api.showError(e)
      return null
    } finally {
      this.setData({ buying: false })
    }
  }
}, friendHelpMethods('bargain', {
  notFound: '没有找到这个砍价',
  helpedToast: (res) => ({ title: '帮TA砍掉 ' + formatFen(res.cut || 0), icon: 'none' }),
  shareTitle: (b) => (b && b.title ? '帮我砍一刀：' + b.title : '帮我砍一刀')
})))
