const { formatFen } = require('../../utils/money')
Component({
  properties: {
    value: { type: Number, value: 0 },   // fen
    strike: { type: Boolean, value: false },
    size: { type: String, value: 'md' }
  },
  data: { text: '¥0.00' },
  observers: {
    value(v) { this.setData({ text: formatFen(v) }) }
  },
  lifetimes: {
    attached() { this.setData({ text: formatFen(this.data.value) }) }
  }
})
