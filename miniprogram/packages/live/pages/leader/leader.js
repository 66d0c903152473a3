// The leader's dashboard: members, orders, commission (pending, available, paid), this month,
// and the group chats their shares were opened in.
const api = require('../../../../services/api')
const { formatFen } = require('../../../../utils/money')

Page({
  data: { board: null, loading: true, error: '', text: {} },
  onLoad() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const board = await api.call('get_leader_dashboard', {})
      const c = board.commission || {}
      const m = (board.this_month && board.this_month.commission) || {}
      this.setData({ board, loading: false, text: {
        pending: formatFen(c.pending || 0), available: formatFen(c.available || 0), paid: formatFen(c.paid || 0),
        month: formatFen((m.pending || 0) + (m.available || 0) + (m.paid || 0)) } })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  }
})
