const api = require('../../../../services/api')

// ?team_id=... shows a team; ?campaign_id=... shows the group-buy campaign to start one.
Page({
  data: { teamId: '', campaignId: '', team: null, campaign: null, loading: true, error: '' },
  onLoad(options) {
    const o = options || {}
    this.setData({ teamId: o.team_id || '', campaignId: o.campaign_id || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      if (this.data.teamId) this.setData({ team: await api.call('get_team', { team_id: this.data.teamId }) })
      else if (this.data.campaignId) this.setData({ campaign: await api.call('get_group_buy', { campaign_id: this.data.campaignId }) })
      else throw Object.assign(new Error('没有找到这个团'), { code: 'NOT_FOUND' })
      this.setData({ loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  buy() {
    const c = this.data.campaign
    if (c && c.product) wx.navigateTo({ url: '/pages/product/product?id=' + c.product.id })
  }
})
