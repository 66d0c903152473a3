// How a coupon reads: "满99减10", "满50享8.5折(最高减20)", "无门槛减5"; amounts in fen.
const money = require('./money')

function yuan(fen) { return money.yuan(fen).replace(/\.00$/, '').replace(/(\.\d)0$/, '$1') }

function couponText(c) {
  if (!c) return ''
  const head = c.threshold ? '满' + yuan(c.threshold) : '无门槛'
  if (c.kind === 'percent') {
    return head + '享' + (100 - c.percent) / 10 + '折' + (c.cap ? '(最高减' + yuan(c.cap) + ')' : '')
  }
  return head + '减' + yuan(c.amount || 0)
}

module.exports = { couponText }
