const { friendHelpMethods } = require('../../friend-help')

const REWARD_STATUS = { granting: '奖励发放中', granted: '奖励已发放', failed: '奖励发放失败，请联系客服', unavailable: '奖励已发完' }

function rewardText(a) {
  if (a.reward_granted) return REWARD_STATUS.granted
  if (a.reward_status && REWARD_STATUS[a.reward_status]) return REWARD_STATUS[a.reward_status]
  if (a.status === 'expired') return '助力已结束'
  return '还差 ' + Math.max(0, a.assists_needed - a.help_count) + ' 位好友助力'
}

// ?id=<assist id> shows a friend assist; ?campaign_id=... starts the caller's on that campaign.
Page(Object.assign({
  data: { id: '', campaignId: '', assist: null, progress: 0, rewardText: '', loading: true, error: '', helping: false },
  onLoad(options) {
    const o = options || {}
    this.setData({ id: o.id || '', campaignId: o.campaign_id || '' })
    return this.load()
  },
  show(assist) {
    const need = assist.assists_needed || 1
    this.setData({ assist, id: assist.id, progress: Math.min(100, Math.round(assist.help_count * 100 / need)), rewardText: rewardText(assist) })
  }
}, friendHelpMethods('assist', {
  notFound: '没有找到这个助力',
  helpedToast: () => ({ title: '助力成功', icon: 'success' }),
  shareTitle: (a) => (a && a.reward && a.reward.title ? '帮我助力领' + a.reward.title : '帮我助力一下')
})))
