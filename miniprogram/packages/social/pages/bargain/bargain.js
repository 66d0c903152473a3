const api = require('../../../../services/api')
const share = require('../../../../services/share')
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
Page({
  data: { id: '', campaignId: '', bargain: null, progress: 0, cutText: '', loading: true, error: '', helping: false, buying: false, requestId: '' },
  onLoad(options) {
    const o = options || {}
    this.setData({ id: o.id || '', campaignId: o.campaign_id || '', requestId: requestId() })
    return this.load()
  },
  show(bargain) {
    this.setData({ bargain, id: bargain.id, progress: progressOf(bargain), cutText: formatFen(bargain.start_price - bargain.current_price) })
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      if (this.data.id) this.show(await api.call('get_bargain', { bargain_id: this.data.id }))
      else if (this.data.campaignId) this.show(await api.call('start_bargain', { campaign_id: this.data.campaignId }))
      else throw Object.assign(new Error('没有找到这个砍价'), { code: 'NOT_FOUND' })
      this.setData({ loading: false })
      this.prepareShare()
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  onCountdownEnd() {
    if (this.endedOnce) return
    this.endedOnce = true
    this.load()
  },
  // 帮TA砍一刀 (a friend's bargain)
  async help() {
    const b = this.data.bargain
    if (!b || b.is_mine || b.helped_by_me || this.data.helping) return null
    this.setData({ helping: true })
    try {
      const res = await api.call('help_bargain', { bargain_id: b.id })
      this.show(res)
      wx.showToast({ title: '帮TA砍掉 ' + formatFen(res.cut || 0), icon: 'none' })
      return res
    } catch (e) {
      api.showError(e)
      return null
    } finally {
      this.setData({ helping: false })
    }
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
  },
  sharePath() { return '/packages/social/pages/bargain/bargain?id=' + encodeURIComponent(this.data.id) },
  prepareShare() {
    if (!this.sharePending && this.data.id) {
      this.sharePending = share.createShare('bargain', this.data.id).then((code) => {
        if (code) this.shareCode = code; else this.sharePending = null
        return code
      })
    }
    return this.sharePending || Promise.resolve('')
  },
  onShareAppMessage() {
    const b = this.data.bargain
    const title = b && b.title ? '帮我砍一刀：' + b.title : '帮我砍一刀'
    return share.shareMessage(title, this.sharePath(), this.shareCode, this.shareCode ? null : this.prepareShare())
  }
})
