// Live rooms: tabs by status, a countdown to each upcoming start, a subscribe button (one
// subscribe-message grant, then subscribe_live_room), and the way into a room.
const api = require('../../../../services/api')
const { requestSubscribe } = require('../../../../services/subscribe')
const { STATUS_TEXT } = require('../../../../utils/live')

Page({
  data: { status: 'live', rooms: [], loading: true, error: '', subscribing: '' },
  onLoad(options) {
    if (options && options.status) this.setData({ status: options.status })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const page = await api.call('list_live_rooms', { status: this.data.status })
      const rooms = (page.items || []).map((r) => Object.assign({}, r, { statusText: STATUS_TEXT[r.status] || '' }))
      this.setData({ rooms, loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  switchTab(e) {
    this.setData({ status: e.currentTarget.dataset.status })
    return this.load()
  },
  async subscribe(e) {
    const id = e.currentTarget.dataset.id
    if (this.data.subscribing) return null
    this.setData({ subscribing: id })
    try {
      await requestSubscribe('live')
      const res = await api.call('subscribe_live_room', { room_id: id })
      wx.showToast({ title: '开播前10分钟提醒你', icon: 'none' })
      return res
    } catch (err) {
      wx.showToast({ title: err.message, icon: 'none' })
      return null
    } finally { this.setData({ subscribing: '' }) }
  },
  open(e) { wx.navigateTo({ url: '/packages/live/pages/room/room?id=' + e.currentTarget.dataset.id }) }
})
