const api = require('../../../../services/api')
const config = require('../../../../config')
const { requestSubscribe } = require('../../../../services/subscribe')
const { STATUS_TEXT } = require('../../status')
const { beijingTime } = require('../../../../utils/time')

// the order's moments, in Beijing time, in the order they happen
const TIMES = [['created_at', '下单时间'], ['paid_at', '付款时间'], ['shipped_at', '发货时间'],
  ['completed_at', '完成时间'], ['cancelled_at', '取消时间']]

const AFTER_SALE_STATES = ['paid', 'shipped', 'completed']

function requestPayment(params) {
  return new Promise((resolve, reject) => {
    wx.requestPayment(Object.assign({}, params, { success: resolve, fail: reject }))
  })
}

Page({
  data: { id: '', order: null, statusText: '', times: [], deadlineText: '', expired: false, loading: true, error: '', paying: false, canAfterSale: false,
          sandbox: config.mode === 'gateway' && !!config.dev },
  onLoad(options) {
    this.setData({ id: (options && options.id) || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      this.show(await api.call('get_order', { order_id: this.data.id }))
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  show(order) {
    const times = TIMES.filter(([k]) => order[k]).map(([k, label]) => ({ key: k, label, text: beijingTime(order[k]) }))
    this.setData({ order, statusText: STATUS_TEXT[order.status] || order.status, loading: false,
                   canAfterSale: AFTER_SALE_STATES.indexOf(order.status) >= 0,
                   times, deadlineText: beijingTime(order.pay_deadline), expired: false,
                   pickedUpText: beijingTime(order.pickup && order.pickup.picked_up_at) })
  },
  // the pay deadline passed: the order is being cancelled (order_timeout); say so, then reload
  onDeadline() {
    this.setData({ expired: true })
    return this.load()
  },
  copyTracking() {
    const shipment = (this.data.order && this.data.order.shipment) || {}
    if (!shipment.tracking_no) return
    wx.setClipboardData({ data: shipment.tracking_no })   // WeChat shows "内容已复制" itself
  },
  openAfterSale() {
    wx.navigateTo({ url: '/packages/order/pages/aftersale/aftersale?order_id=' + this.data.id })
  },
  openTrace(e) {
    const code = e && e.currentTarget && e.currentTarget.dataset && e.currentTarget.dataset.code
    if (code) wx.navigateTo({ url: '/packages/trace/pages/trace/trace?code=' + encodeURIComponent(code) })
  },
  openAfterSales() { wx.navigateTo({ url: '/packages/order/pages/aftersale-list/aftersale-list' }) },
  openAssistant() { wx.navigateTo({ url: `/packages/assistant/pages/chat/chat?order_id=${this.data.id || ''}` }) },
  // the pay taps ask for shipping notices first, while the tap still counts (WeChat refuses the
  // ask after a network wait), and wait for the answer so its dialog and the payment's never overlap
  async pay() {
    if (this.data.paying) return
    const asked = requestSubscribe('order')
    this.setData({ paying: true })
    try {
      await asked
      const params = await api.call('pay_order', { order_id: this.data.id })
      try {
        await requestPayment(params)
      } catch (e) {
        const cancelled = e && /cancel/.test(e.errMsg || '')
        wx.showToast({ title: cancelled ? '已取消支付' : '支付未完成，请重试', icon: 'none' })
        return
      }
      wx.showToast({ title: '支付成功', icon: 'success' })
      await this.waitPaid()
    } catch (e) {
      api.showError(e)
    } finally {
      this.setData({ paying: false })
    }
  },
  // the notify may land a moment after requestPayment succeeds
  async waitPaid() {
    for (let i = 0; i < 5; i++) {
      const order = await api.call('get_order', { order_id: this.data.id })
      this.show(order)
      if (order.status !== 'pending_payment') return
      await new Promise((r) => setTimeout(r, 800))
    }
  },
  async sandboxPay() {
    if (this.data.paying) return
    const asked = requestSubscribe('order')
    this.setData({ paying: true })
    try {
      await asked
      const res = await api.call('sandbox_pay', { order_id: this.data.id })
      if (res && res.order) this.show(res.order); else await this.load()
      wx.showToast({ title: '沙箱支付成功', icon: 'success' })
    } catch (e) {
      api.showError(e)
    } finally {
      this.setData({ paying: false })
    }
  },
  async cancel() {
    try {
      const order = await api.call('cancel_order', { order_id: this.data.id })
      if (order && order.id) this.show(order); else await this.load()
    } catch (e) { api.showError(e) }
  },
  async confirmReceipt() {
    try {
      const order = await api.call('confirm_receipt', { order_id: this.data.id })
      if (order && order.id) this.show(order); else await this.load()
    } catch (e) { api.showError(e) }
  }
})
