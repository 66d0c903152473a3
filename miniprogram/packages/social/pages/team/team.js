const api = require('../../../../services/api')
const share = require('../../../../services/share')
const { formatFen } = require('../../../../utils/money')

const POSTER_W = 300
const POSTER_H = 420

function requestId() {
  return 'gb-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
}

// ?team_id=... shows a team; ?campaign_id=... shows the group-buy campaign to start one.
Page({
  data: { teamId: '', campaignId: '', team: null, seats: [], campaign: null, loading: true, error: '', submitting: false, requestId: '', posterBusy: false },
  onLoad(options) {
    const o = options || {}
    // one request id per visit: a retried tap cannot open or join twice
    this.setData({ teamId: o.team_id || '', campaignId: o.campaign_id || '', requestId: requestId() })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      if (this.data.teamId) this.showTeam(await api.call('get_team', { team_id: this.data.teamId }))
      else if (this.data.campaignId) this.setData({ campaign: await api.call('get_group_buy', { campaign_id: this.data.campaignId }) })
      else throw Object.assign(new Error('没有找到这个团'), { code: 'NOT_FOUND' })
      this.setData({ loading: false })
      this.prepareShare()
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  // the paid members' avatars, then an empty circle per seat still open
  showTeam(team) {
    const members = (team.members || []).map((m) => Object.assign({}, m, { initial: (m.nickname || '?').slice(0, 1) }))
    const open = team.status === 'forming' ? Math.max(0, (team.team_size || 0) - members.length) : 0
    const seats = members.concat(Array.from({ length: Math.min(open, 20) }, () => ({ nickname: '', avatar: '' })))
      .map((seat, i) => Object.assign(seat, { key: 'seat-' + i }))   // seats have no id to show
    this.setData({ team, seats })
  },
  shareTarget() {
    if (this.data.teamId) return { target: 'team', id: this.data.teamId, path: '/packages/social/pages/team/team?team_id=' + encodeURIComponent(this.data.teamId) }
    return { target: 'campaign', id: this.data.campaignId, path: '/packages/social/pages/team/team?campaign_id=' + encodeURIComponent(this.data.campaignId) }
  },
  prepareShare() {
    if (!this.sharePending) {
      const t = this.shareTarget()
      this.sharePending = share.createShareInfo(t.target, t.id).then((res) => {
        const code = (res && res.code) || ''
        if (code) { this.shareCode = code; this.shareId = res.share_id } else this.sharePending = null
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
      if (res.team) { this.showTeam(res.team); this.setData({ teamId: res.team.id || this.data.teamId }) }
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
  },
  onCountdownEnd() {
    if (this.endedOnce) return
    this.endedOnce = true
    this.load()
  },
  // ---- share poster: title, price and the share's mini-program code, saved to the album
  async posterCampaign() {
    if (this.data.campaign) return this.data.campaign
    const team = this.data.team
    if (!team || !team.campaign_id) return null
    const c = await api.call('get_group_buy', { campaign_id: team.campaign_id })
    this.setData({ campaign: c })
    return c
  },
  posterCanvas() {
    return new Promise((resolve, reject) => {
      wx.createSelectorQuery().select('#poster').fields({ node: true, size: true }).exec((res) => {
        const r = res && res[0]
        if (r && r.node) resolve(r); else reject(new Error('no canvas'))
      })
    })
  },
  loadImage(canvas, src) {
    return new Promise((resolve, reject) => {
      const img = canvas.createImage()
      img.onload = () => resolve(img)
      img.onerror = () => reject(new Error('image'))
      img.src = src
    })
  },
  wxCall(name, o) {
    return new Promise((resolve, reject) => wx[name](Object.assign({}, o, { success: resolve, fail: reject })))
  },
  async savePoster() {
    if (this.data.posterBusy) return false
    this.setData({ posterBusy: true })
    let step = 'draw'
    try {
      await this.prepareShare()
      if (!this.shareId) throw new Error('no share')
      const c = await this.posterCampaign()
      const title = (c && c.product && c.product.title) || '一起拼团更便宜'
      const price = c && c.sku_prices && c.sku_prices[0] ? c.sku_prices[0].group_price : null
      const { url } = await api.call('get_share_code', { share_id: this.shareId })
      const { node: canvas, width, height } = await this.posterCanvas()
      const w = width || POSTER_W
      const h = height || POSTER_H
      canvas.width = w * 2
      canvas.height = h * 2
      const ctx = canvas.getContext('2d')
      ctx.scale(2, 2)
      ctx.fillStyle = '#ffffff'
      ctx.fillRect(0, 0, w, h)
      ctx.fillStyle = '#333333'
      ctx.font = '16px sans-serif'
      ctx.fillText(title.length > 16 ? title.slice(0, 16) + '…' : title, 20, 40)
      if (price != null) {
        ctx.fillStyle = '#e4393c'
        ctx.font = 'bold 24px sans-serif'
        ctx.fillText('拼团价 ' + formatFen(price), 20, 80)
      }
      const code = await this.loadImage(canvas, url)
      const size = Math.min(w - 40, h - 160)
      ctx.drawImage(code, (w - size) / 2, 110, size, size)
      ctx.fillStyle = '#999999'
      ctx.font = '12px sans-serif'
      ctx.fillText('长按识别小程序码，一起拼团', 20, h - 20)
      const shot = await this.wxCall('canvasToTempFilePath', { canvas })
      step = 'save'
      await this.wxCall('saveImageToPhotosAlbum', { filePath: shot.tempFilePath })
      wx.showToast({ title: '海报已保存到相册', icon: 'success' })
      return true
    } catch (e) {
      const denied = step === 'save' && e && /auth|deny|denied/.test(e.errMsg || '')
      const title = step === 'save' ? (denied ? '请允许保存到相册后重试' : '保存海报失败，请重试') : '生成海报失败，请重试'
      wx.showToast({ title, icon: 'none' })
      return false
    } finally {
      this.setData({ posterBusy: false })
    }
  }
})
