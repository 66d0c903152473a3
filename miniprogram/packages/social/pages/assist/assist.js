const api = require('../../../../services/api')
const share = require('../../../../services/share')

const REWARD_STATUS = { granting: '奖励发放中', granted: '奖励已发放', failed: '奖励发放失败，请联系客服', unavailable: '奖励已发完' }

function rewardText(a) {
  if (a.reward_granted) return REWARD_STATUS.granted
  if (a.reward_status && REWARD_STATUS[a.reward_status]) return REWARD_STATUS[a.reward_status]
  if (a.status === 'expired') return '助力已结束'
  return '还差 ' + Math.max(0, a.assists_needed - a.help_count) + ' 位好友助力'
}

// ?id=<assist id> shows a friend assist; ?campaign_id=... starts the caller's on that campaign.
Page({
  data: { id: '', campaignId: '', assist: null, progress: 0, rewardText: '', loading: true, error: '', helping: false },
  onLoad(options) {
    const o = options || {}
    this.setData({ id: o.id || '', campaignId: o.campaign_id || '' })
    return this.load()
  },
  show(assist) {
    const need = assist.assists_needed || 1
    this.setData({ assist, id: assist.id, progress: Math.min(100, Math.round(assist.help_count * 100 / need)), rewardText: rewardText(assist) })
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      if (this.data.id) this.show(await api.call('get_assist', { assist_id: this.data.id }))
      else if (this.data.campaignId) this.show(await api.call('start_assist', { campaign_id: this.data.campaignId }))
      else throw Object.assign(new Error('没有找到这个助力'), { code: 'NOT_FOUND' })
      this.setData({ loading: false })
      this.prepareShare()
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  onCountdownEnd() {
    if (this.endedOnce) return
    this.endedOnce = true
    this.load()
  },
  // 帮TA助力 (a friend's assist)
  async help() {
    const a = this.data.assist
    if (!a || a.is_mine || a.helped_by_me || this.data.helping) return null
    this.setData({ helping: true })
    try {
      const res = await api.call('help_assist', { assist_id: a.id })
      this.show(res)
      wx.showToast({ title: '助力成功', icon: 'success' })
      return res
    } catch (e) {
      api.showError(e)
      return null
    } finally {
      this.setData({ helping: false })
    }
  },
  sharePath() { return '/packages/social/pages/assist/assist?id=' + encodeURIComponent(this.data.id) },
  prepareShare() {
    if (!this.sharePending && this.data.id) {
      this.sharePending = share.createShare('assist', this.data.id).then((code) => {
        if (code) this.shareCode = code; else this.sharePending = null
        return code
      })
    }
    return this.sharePending || Promise.resolve('')
  },
  onShareAppMessage() {
    const a = this.data.assist
    const title = a && a.reward && a.reward.title ? '帮我助力领' + a.reward.title : '帮我助力一下'
    return share.shareMessage(title, this.sharePath(), this.shareCode, this.shareCode ? null : this.prepareShare())
  }
})
