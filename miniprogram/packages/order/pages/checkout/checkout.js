const api = require('../../../../services/api')

function requestId() {
  return 'co-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
}

Page({
  data: {
    mode: 'cart', skuId: '', quantity: 1,
    lines: [], goodsTotal: 0,
    addresses: [], address: null,
    addressForm: { name: '', phone: '', province: '', city: '', district: '', detail: '' },
    note: '', loading: true, error: '', submitting: false, requestId: ''
  },
  onLoad(options) {
    const o = options || {}
    this.setData({
      mode: o.sku_id ? 'buy' : 'cart', skuId: o.sku_id || '', quantity: Number(o.quantity) || 1,
      requestId: requestId()   // one per checkout: a retried submit cannot place two orders
    })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const [lines, addr] = await Promise.all([this.loadLines(), api.call('list_addresses', {})])
      const addresses = addr.items || []
      const address = addresses.find((a) => a.is_default) || addresses[0] || null
      const goodsTotal = lines.reduce((s, l) => s + l.price * l.quantity, 0)
      this.setData({ lines, goodsTotal, addresses, address, loading: false })
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  async loadLines() {
    if (this.data.mode === 'buy') {
      // the product of a SKU is not known here; the cart answers prices for any SKU it holds,
      // so a "buy now" line shows what place_order will price
      return [{ sku_id: this.data.skuId, quantity: this.data.quantity, title: '立即购买', price: 0, specs: {} }]
    }
    const cart = await api.call('cart_list', {})
    return (cart.items || []).filter((i) => i.selected && i.valid)
  },
  onFormInput(e) {
    const field = e.currentTarget.dataset.field
    this.setData({ ['addressForm.' + field]: e.detail.value })
  },
  onNote(e) { this.setData({ note: e.detail.value }) },
  async saveAddress() {
    const f = this.data.addressForm
    if (!f.name || !/^1\d{10}$/.test(f.phone) || !f.province || !f.city || !f.district || !f.detail) {
      wx.showToast({ title: '请完整填写收货信息', icon: 'none' })
      return null
    }
    try {
      const address = await api.call('add_address', Object.assign({}, f, { is_default: true }))
      this.setData({ address, addresses: this.data.addresses.concat([address]) })
      return address
    } catch (e) { api.showError(e); return null }
  },
  chooseAddress(e) {
    const address = this.data.addresses.find((a) => a.id === e.currentTarget.dataset.id)
    if (address) this.setData({ address })
  },
  async submit() {
    if (this.data.submitting) return null
    if (!this.data.address) { wx.showToast({ title: '请先填写收货地址', icon: 'none' }); return null }
    if (!this.data.lines.length) { wx.showToast({ title: '没有可结算的商品', icon: 'none' }); return null }
    this.setData({ submitting: true })
    const input = { request_id: this.data.requestId, address_id: this.data.address.id }
    if (this.data.note) input.note = this.data.note
    if (this.data.mode === 'buy') input.items = [{ sku_id: this.data.skuId, quantity: this.data.quantity }]
    else input.from_cart = true
    try {
      const order = await api.call('place_order', input)
      this.setData({ submitting: false })
      wx.redirectTo({ url: '/packages/order/pages/detail/detail?id=' + order.id })
      return order
    } catch (e) {
      this.setData({ submitting: false })
      api.showError(e)
      return null
    }
  }
})
