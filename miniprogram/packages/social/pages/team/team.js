const api = require('../../../../services/api')
const share = require('../../../../services/share')

function requestId() {
  return 'gb-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
}

// ?team_id=... shows a team; ?campaign_id=... shows the group-buy campaign to start one.
Page({
  data: { teamId: '', campaignId: '', team: null, campaign: null, loading: true, error: '', submitting: false, requestId: '' },
  onLoad(options) {
    const o = options || {}
    // one request id per visit: a retried tap cannot open or join twice
    this.setData({ teamId: o.team_id || '', campaignId: o.campaign_id || '', requestId: requestId() })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      if (this.data.teamId) this.setData({ team: await api.call('get_team', { team_id: this.data.teamId }) })
      else if (this.data.campaignId) this.setData({ campaign: await api.call('get_group_buy', { campaign_id: this.data.campaignId }) })
      else throw Object.assign(new Error('没有找到这个团'), { code: 'NOT_FOUND' })
      this.setData({ loading: false })
      this.prepareShare()
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  shareTarget() {
    if (this.data.teamId) return { target: 'team', id: this.data.teamId, path: '/packages/social/pages/team/team?team_id=' + encodeURIComponent(this.data.teamId) }
    return { target: 'campaign', id: this.data.campaignId, path: '/packages/social/pages/team/team?campaign_id=' + encodeURIComponent(this.data.campaignId) }
  },
  prepareShare() {
    if (!this.sharePending) {
      const t = this.shareTarget()
      this.sharePending = share.createShare(t.target, t.id).then((code) => {
        if (code) this.shareCode = code; else this.sharePending = null
        return code
      })
    }
    return this.sharePending
  },
  onShareAppMessage() {
    const team = this.data.team
    const c = this.data.campaign || (team && team.campaign) || null
    const name = (c && c.product && c.product.title) || ''
    const title = team && team.seats_left ? '还差 ' + team.seats_left + ' 人成团，快来一起拼' + (name ? '：' + name : '') : (name ? '一起拼团：' + name : '一起拼团更便宜')
    return share.shareMessage(title, this.shareTarget().path, this.shareCode, this.shareCode ? null : this.prepareShare())
  },
  async defaultAddress() {
    const res = await api.call('list_addresses', {})
    const items = (res && res.items) || []
    return items.find((a) => a.is_default) || items[0] || null
  },
  // 开团 (campaign) or 参团 (team) -> the group order to pay on the order detail page
  async groupOrder(action, input) {
    if (this.data.submitting) return null
    this.setData({ submitting: true })
    try {
      const address = await this.defaultAddress()
      if (!address) { wx.showToast({ title: '请先添加收货地址', icon: 'none' }); return null }
      const res = await api.call(action, Object.assign({ request_id: this.data.requestId, address_id: address.id }, input))
      if (res.team) this.setData({ team: res.team, teamId: res.team.id || this.data.teamId })
      wx.navigateTo({ url: '/packages/order/pages/detail/detail?id=' + res.order.id })
      return res
    } catch (e) {
      api.showError(e)
      return null
    } finally {
      this.setData({ submitting: false })
    }
  },
  start(e) {
    const c = this.data.campaign
    const skuId = (e && e.currentTarget && e.currentTarget.dataset.sku) || (c && c.sku_prices && c.sku_prices[0] && c.sku_prices[0].sku_id)
    if (!c || !skuId) return Promise.resolve(null)
    return this.groupOrder('start_group_buy', { campaign_id: c.id, sku_id: skuId })
  },
  join() {
    if (!this.data.teamId) return Promise.resolve(null)
    return this.groupOrder('join_group_buy', { team_id: this.data.teamId })
  },
  buy() {
    const c = this.data.campaign
    if (c && c.product) wx.navigateTo({ url: '/pages/product/product?id=' + c.product.id })
  }
})
