// What the bargain and assist pages share: load a friend's (get_<kind>) or start one's own
// (start_<kind>), help once (help_<kind>), reload once when the countdown ends, and the share
// (create_share with ?s=). Each page keeps its record in data[kind] and gives show().
const api = require('../../services/api')
const share = require('../../services/share')

function friendHelpMethods(kind, { notFound, helpedToast, shareTitle }) {
  const idKey = kind + '_id'
  return {
    async load() {
      this.setData({ loading: true, error: '' })
      try {
        if (this.data.id) this.show(await api.call('get_' + kind, { [idKey]: this.data.id }))
        else if (this.data.campaignId) this.show(await api.call('start_' + kind, { campaign_id: this.data.campaignId }))
        else throw Object.assign(new Error(notFound), { code: 'NOT_FOUND' })
        this.setData({ loading: false })
        this.prepareShare()
      } catch (e) { this.setData({ loading: false, error: e.message }) }
    },
    onCountdownEnd() {
      if (this.endedOnce) return
      this.endedOnce = true
      this.load()
    },
    // a friend's help: once, never on one's own
    async help() {
      const record = this.data[kind]
      if (!record || record.is_mine || record.helped_by_me || this.data.helping) return null
      this.setData({ helping: true })
      try {
        const res = await api.call('help_' + kind, { [idKey]: record.id })
        this.show(res)
        wx.showToast(helpedToast(res))
        return res
      } catch (e) {
        api.showError(e)
        return null
      } finally {
        this.setData({ helping: false })
      }
    },
    sharePath() { return '/packages/social/pages/' + kind + '/' + kind + '?id=' + encodeURIComponent(this.data.id) },
    prepareShare() {
      if (!this.sharePending && this.data.id) {
        this.sharePending = share.createShare(kind, this.data.id).then((code) => {
          if (code) this.shareCode = code; else this.sharePending = null
          return code
        })
      }
      return this.sharePending || Promise.resolve('')
    },
    onShareAppMessage() {
      return share.shareMessage(shareTitle(this.data[kind]), this.sharePath(), this.shareCode,
        this.shareCode ? null : this.prepareShare())
    }
  }
}

module.exports = { friendHelpMethods }
