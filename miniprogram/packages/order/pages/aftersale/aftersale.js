// Request an after-sale for one order: refund only, or return and refund (shipped/completed),
// optional lines, a reason and up to 9 photos uploaded to presigned URLs.
const api = require('../../../../services/api')
const { uploadImage } = require('../../upload')

const MAX_IMAGES = 9
const ELIGIBLE = ['paid', 'shipped', 'completed']
const RETURNABLE = ['shipped', 'completed']

Page({
  data: {
    orderId: '', order: null, loading: true, error: '',
    type: 'refund_only', canReturn: false,
    lines: [],            // [{sku_id, title, max, quantity, checked}]
    reason: '', images: [], // [{path, url}]
    uploading: false, submitting: false, maxImages: MAX_IMAGES
  },
  onLoad(options) {
    this.setData({ orderId: (options && options.order_id) || '' })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const order = await api.call('get_order', { order_id: this.data.orderId })
      if (ELIGIBLE.indexOf(order.status) < 0) {
        this.setData({ loading: false, order, error: '该订单当前不能申请售后' })
        return
      }
      const lines = (order.items || []).map((i) => ({
        sku_id: i.sku_id, title: i.title, max: i.refundable_qty != null ? i.refundable_qty : i.quantity,
        quantity: i.refundable_qty != null ? i.refundable_qty : i.quantity, checked: false
      })).filter((l) => l.max > 0)
      this.setData({ order, lines, canReturn: RETURNABLE.indexOf(order.status) >= 0, loading: false })
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  chooseType(e) {
    const type = e.currentTarget.dataset.type
    if (type === 'return_refund' && !this.data.canReturn) {
      wx.showToast({ title: '订单发货后才能退货退款', icon: 'none' })
      return
    }
    this.setData({ type })
  },
  toggleLine(e) {
    const i = Number(e.currentTarget.dataset.index)
    this.setData({ ['lines[' + i + '].checked']: !this.data.lines[i].checked })
  },
  changeQty(e) {
    const i = Number(e.currentTarget.dataset.index)
    const line = this.data.lines[i]
    const q = Math.max(1, Math.min(line.max, line.quantity + Number(e.currentTarget.dataset.delta)))
    this.setData({ ['lines[' + i + '].quantity']: q })
  },
  onReason(e) { this.setData({ reason: e.detail.value }) },
  // choose photos and upload each one now, so submitting only sends the URLs
  chooseImages() {
    const left = MAX_IMAGES - this.data.images.length
    if (left <= 0 || this.data.uploading) return Promise.resolve()
    return new Promise((resolve) => {
      wx.chooseMedia({
        count: left, mediaType: ['image'], sourceType: ['album', 'camera'], sizeType: ['compressed'],
        success: (res) => resolve(this.uploadAll((res.tempFiles || []).slice(0, left).map((f) => f.tempFilePath))),
        fail: () => resolve()
      })
    })
  },
  async uploadAll(paths) {
    if (!paths.length) return
    this.setData({ uploading: true })
    try {
      for (const path of paths) {
        const url = await uploadImage(path)
        this.setData({ images: this.data.images.concat([{ path, url }]) })
      }
    } catch (e) {
      api.showError(e)
    } finally {
      this.setData({ uploading: false })
    }
  },
  removeImage(e) {
    const i = Number(e.currentTarget.dataset.index)
    this.setData({ images: this.data.images.filter((_, k) => k !== i) })
  },
  async submit() {
    if (this.data.submitting) return null
    if (this.data.uploading) { wx.showToast({ title: '图片上传中，请稍候', icon: 'none' }); return null }
    const reason = (this.data.reason || '').trim()
    if (!reason) { wx.showToast({ title: '请填写售后原因', icon: 'none' }); return null }
    const input = { order_id: this.data.orderId, type: this.data.type, reason, images: this.data.images.map((i) => i.url) }
    const items = this.data.lines.filter((l) => l.checked).map((l) => ({ sku_id: l.sku_id, quantity: l.quantity }))
    if (items.length) input.items = items
    this.setData({ submitting: true })
    try {
      const sale = await api.call('request_after_sale', input)
      this.setData({ submitting: false })
      wx.showToast({ title: '已提交申请', icon: 'success' })
      wx.redirectTo({ url: '/packages/order/pages/aftersale-detail/aftersale-detail?id=' + sale.id })
      return sale
    } catch (e) {
      this.setData({ submitting: false })
      api.showError(e)
      return null
    }
  }
})
