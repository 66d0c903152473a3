const api = require('../../../../services/api')
const paging = require('../../../../utils/paging')
const { beijingTime } = require('../../../../utils/time')

// what each tab lists and where an item leads
const TABS = {
  bargain: { action: 'list_bargains', page: '/packages/social/pages/bargain/bargain' },
  assist: { action: 'list_assists', page: '/packages/social/pages/assist/assist' }
}

// The running bargain (砍价) and friend-assist (助力) campaigns a shopper can join, a tab each.
// ?tab=assist opens on assists.
Page({
  data: Object.assign(paging.initial(), { tab: 'bargain', tabs: [
    { key: 'bargain', text: '砍价免费拿' }, { key: 'assist', text: '好友助力' }] }),
  onLoad(options) {
    const tab = (options && options.tab) === 'assist' ? 'assist' : 'bargain'
    this.setData({ tab })
    return this.loadMore(true)
  },
  onReachBottom() { return this.loadMore() },
  onPullDownRefresh() { return this.loadMore(true).then(() => wx.stopPullDownRefresh && wx.stopPullDownRefresh()) },
  loadMore(reset) {
    const tab = this.data.tab
    return paging.loadList(this, async (page) => {
      const res = await api.call(TABS[tab].action, { page, page_size: 10 })
      res.items = (res.items || []).map((c) => Object.assign({}, c, {
        endsText: beijingTime(c.ends_at),
        rewardKind: c.reward ? c.reward.kind : ''
      }))
      return res
    }, reset === true)
  },
  onTab(e) {
    const tab = e.currentTarget.dataset.key
    if (tab === this.data.tab || !TABS[tab]) return Promise.resolve()
    this.setData(Object.assign(paging.initial(), { tab }))
    return this.loadMore(true)
  },
  onRetry() { return this.loadMore(true) },
  open(e) {
    const id = e.currentTarget.dataset.id
    if (id) wx.navigateTo({ url: TABS[this.data.tab].page + '?campaign_id=' + encodeURIComponent(id) })
  },
  onShareAppMessage() {
    return { title: this.data.tab === 'assist' ? '好友助力，领好礼' : '找朋友砍一刀，低价拿好物',
             path: '/packages/social/pages/campaigns/campaigns?tab=' + this.data.tab }
  }
})
