// 溯源: a batch's history, opened from an order line or by scanning the code on the package
// (getwxacodeunlimit: the code arrives as options.scene). Public: no login needed.
const api = require('../../../../services/api')

const { codeOf, eventRows } = require('../../utils')

Page({
  data: { code: '', loading: true, error: '', batch: null, rows: [], verified: false, firstBad: null, publicKey: '' },
  onLoad(options) {
    this.setData({ code: codeOf(options) })
    return this.load()
  },
  async load() {
    if (!this.data.code) {
      this.setData({ loading: false, error: '没有溯源码' })
      return
    }
    this.setData({ loading: true, error: '' })
    try {
      const trace = await api.call('get_trace', { code: this.data.code })
      this.setData({ loading: false, batch: trace.batch, rows: eventRows(trace.events), verified: !!trace.verified,
                     firstBad: trace.first_bad_seq, publicKey: trace.public_key })
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  copyKey() { wx.setClipboardData({ data: this.data.publicKey }) }
})
