// One live room: its products (tapping one opens the product page with the room, so the
// order carries it), the way in (the live-player plugin, or channels live via
// wx.getChannelsLiveInfo + wx.openChannelsLive), the replay once it has ended.
const api = require('../../../../services/api')
const { requestSubscribe } = require('../../../../services/subscribe')
const { pluginUrl, STATUS_TEXT } = require('../../../../utils/live')

function channelsInfo(finderUserName) {
  return new Promise((resolve, reject) => {
    if (typeof wx.getChannelsLiveInfo !== 'function') return reject(new Error('请升级微信后观看视频号直播'))
    wx.getChannelsLiveInfo({ finderUserName, success: resolve, fail: () => reject(new Error('直播暂未开始')) })
  })
}

Page({
  data: { id: '', room: null, loading: true, error: '', statusText: '' },
  onLoad(options) {
    this.setData({ id: (options && options.id) || '' })
    return this.load()
  },
  async load() {
    // opened without its id (a broken link or share): say so instead of the server's field error
    if (!this.data.id) { this.setData({ loading: false, error: '链接已失效，找不到这个直播间' }); return }
    this.setData({ loading: true, error: '' })
    try {
      const room = await api.call('get_live_room', { room_id: this.data.id })
      this.setData({ room, loading: false, statusText: STATUS_TEXT[room.status] || '' })
      if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: room.title })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  async enter() {
    const room = this.data.room
    if (!room) return null
    if (room.source === 'plugin') {
      wx.navigateTo({ url: pluginUrl(room) })
      return 'plugin'
    }
    try {
      const info = await channelsInfo(room.external_id)
      wx.openChannelsLive({ finderUserName: room.external_id, feedId: info.feedId, nonceId: info.nonceId })
      return 'channels'
    } catch (e) {
      wx.showToast({ title: e.message, icon: 'none' })
      return null
    }
  },
  async subscribe() {
    await requestSubscribe('live')
    try {
      await api.call('subscribe_live_room', { room_id: this.data.id })
      this.setData({ 'room.subscribed': true })
      wx.showToast({ title: '开播前10分钟提醒你', icon: 'none' })
    } catch (e) { wx.showToast({ title: e.message, icon: 'none' }) }
  },
  openProduct(e) {
    wx.navigateTo({ url: '/pages/product/product?id=' + e.currentTarget.dataset.id + '&live_room_id=' + this.data.id })
  }
})
