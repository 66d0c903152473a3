// 智能客服: the assistant's chat (assistant_ask), with product cards, order lines and quick
// replies. Opened from 我的, a product page (?product_id=) and an order's detail (?order_id=):
// the first question is about that product or order. A handoff shows the way to a person:
// WeChat's own customer-service console (<button open-type="contact">).
const api = require('../../../../services/api')

const WELCOME = '您好，我是智能客服，可以帮您找商品、查订单、问售后和优惠。'
const QUICK = ['我的订单到哪了', '怎么退货', '有什么优惠券', '推荐几款热销的', '转人工']

let seq = 0
const bubble = (role, text, extra) => Object.assign({ id: `m${++seq}`, role, text }, extra || {})

Page({
  data: { messages: [], input: '', sending: false, suggestions: QUICK, sessionId: '', handoff: false, lastId: '' },
  onLoad(options) {
    const opts = options || {}
    this.setData({ messages: [bubble('assistant', WELCOME)] })
    if (opts.product_title) return this.ask(`${decodeURIComponent(opts.product_title)}多少钱`)
    if (opts.order_id) return this.ask('我的订单到哪了')
    return null
  },
  onInput(e) { this.setData({ input: e.detail.value }) },
  onSend() { return this.ask(this.data.input) },
  onQuick(e) { return this.ask(e.currentTarget.dataset.text) },
  async ask(text) {
    const message = String(text || '').trim()
    if (!message || this.data.sending) return null
    const messages = this.data.messages.concat([bubble('user', message)])
    this.setData({ messages, input: '', sending: true })
    try {
      const payload = { message }
      if (this.data.sessionId) payload.session_id = this.data.sessionId
      const res = await api.call('assistant_ask', payload)
      const reply = bubble('assistant', res.answer, { products: res.products || [], orders: res.orders || [] })
      const all = this.data.messages.concat([reply])
      this.setData({ messages: all, sessionId: res.session_id, handoff: !!res.handoff, suggestions: (res.suggestions && res.suggestions.length) ? res.suggestions : QUICK, sending: false, lastId: reply.id })
      return res
    } catch (err) {
      const all = this.data.messages.concat([bubble('assistant', err.message || '网络开小差了，请稍后再试')])
      this.setData({ messages: all, sending: false })
      return null
    }
  },
  openProduct(e) { wx.navigateTo({ url: `/pages/product/product?id=${e.currentTarget.dataset.id}` }) },
  openOrder(e) {
    const page = e.currentTarget.dataset.page
    wx.navigateTo({ url: page || `/packages/order/pages/detail/detail?id=${e.currentTarget.dataset.id}` })
  }
})
