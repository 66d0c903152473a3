const api = require('../../../../services/api')
const { couponText } = require('../../../../utils/coupon')
const { getLocation, distanceText } = require('../../../../utils/location')
const { liveSource } = require('../../../../utils/live')

function requestId() {
  return 'co-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10)
}

Page({
  data: {
    mode: 'cart', skuId: '', quantity: 1,
    lines: [], goodsTotal: 0,
    addresses: [], address: null,
    addressForm: { name: '', phone: '', province: '', city: '', district: '', detail: '' },
    note: '', loading: true, error: '', submitting: false, requestId: '',
    // coupons the shopper holds (list_my_coupons available) and the one chosen ('' = none)
    coupons: [], couponId: '', couponText: '',
    // delivery: express (address_id) or pickup at a nearby store (store_id)
    delivery: 'express', stores: [], store: null, storesLoading: false, storesError: '',
    locationFallback: false, fallbackName: '', presetStoreId: '',
    // the price before paying (preview_order): goods total, each discount, freight, payable;
    // asked again whenever the coupon, points, address, store or quantity change
    preview: null, previewError: '', previewing: false,
    pointsBalance: 0, usePoints: false, points: 0
  },
  onLoad(options) {
    const o = options || {}
    this.setData({
      mode: o.sku_id ? 'buy' : 'cart', skuId: o.sku_id || '', quantity: Number(o.quantity) || 1,
      presetStoreId: o.store_id || '', delivery: o.store_id ? 'pickup' : 'express',
      dealId: o.deal_id || '',   // a nearby deal: the server prices it at the deal price
      requestId: requestId()   // one per checkout: a retried submit cannot place two orders
    })
    return this.load()
  },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const [lines, addr, mine, membership] = await Promise.all([
        this.loadLines(), api.call('list_addresses', {}),
        // coupons and points are optional: if they cannot be read, checkout goes on without
        api.call('list_my_coupons', { status: 'available' }).catch(() => ({ items: [] })),
        api.call('get_membership', {}).catch(() => ({ points: 0 }))
      ])
      const addresses = addr.items || []
      const address = addresses.find((a) => a.is_default) || addresses[0] || null
      const goodsTotal = lines.reduce((s, l) => s + l.price * l.quantity, 0)
      this.setData({ lines, goodsTotal, addresses, address, coupons: this.usableCoupons(mine.items || [], goodsTotal),
                     pointsBalance: (membership && membership.points) || 0, loading: false })
    } catch (e) {
      this.setData({ loading: false, error: e.message })
      return
    }
    if (this.data.delivery === 'pickup') await this.loadStores()
    return this.refreshPreview()
  },
  // what place_order will be asked (without its request_id): the preview asks the same
  orderInput() {
    const d = this.data
    const input = {}
    if (d.delivery === 'pickup') { if (d.store) input.store_id = d.store.id } else if (d.address) input.address_id = d.address.id
    if (d.couponId) input.coupon_id = d.couponId
    if (d.note) input.note = d.note
    if (d.dealId) input.deal_id = d.dealId
    if (d.usePoints && d.points > 0) input.points = d.points
    const source = liveSource()   // a product opened from a live room in the last day
    if (source) input.source = source
    if (d.mode === 'buy') input.items = [{ sku_id: d.skuId, quantity: d.quantity }]
    else input.from_cart = true
    return input
  },
  // the server's price for what is on the page; an answer to an older question is dropped
  async refreshPreview() {
    const input = this.orderInput()
    if (!input.address_id && !input.store_id) return null   // nowhere to send it yet
    if (this.data.mode === 'cart' && !this.data.lines.length) return null
    const asked = (this.previewAsked = (this.previewAsked || 0) + 1)
    this.setData({ previewing: true })
    try {
      const preview = await api.call('preview_order', input)
      if (asked !== this.previewAsked) return null
      const points = Math.min(this.data.pointsBalance, preview.points_max || 0)
      const update = { preview, previewError: '', previewing: false, points }
      // "buy now": the product as the server prices it (image, title, specs, price)
      if (this.data.mode === 'buy') update.lines = preview.items.map((i) => Object.assign({}, i, { price: i.final_price }))
      update.goodsTotal = preview.goods_total
      this.setData(update)
      if (this.data.usePoints && input.points !== (points || undefined)) return this.refreshPreview()
      return preview
    } catch (e) {
      if (asked !== this.previewAsked) return null
      const maxPoints = ((e.details || {}).max_points)
      if (e.code === 'LIMIT_EXCEEDED' && input.points && maxPoints != null && maxPoints < input.points) {
        // a coupon or another line lowered the cap on points: use what is allowed
        this.setData({ points: Math.min(this.data.pointsBalance, maxPoints) })
        return this.refreshPreview()
      }
      // refused (sold out, a limit, the coupon): said on the page; placing decides again
      this.setData({ preview: null, previewError: e.userMessage || e.message, previewing: false })
      return null
    }
  },
  togglePoints() {
    this.setData({ usePoints: !this.data.usePoints })
    return this.refreshPreview()
  },
  changeQuantity(e) {
    const quantity = Math.max(1, Math.min(999, this.data.quantity + Number(e.currentTarget.dataset.delta)))
    if (quantity === this.data.quantity) return Promise.resolve(null)
    this.setData({ quantity })
    return this.refreshPreview()
  },
  // with a known total, coupons under their threshold are left out; "buy now" does not know
  // its price here, so place_order decides (COUPON_UNAVAILABLE) and says why
  usableCoupons(items, goodsTotal) {
    return items
      .filter((c) => c.status === 'available' || !c.status)
      .filter((c) => !goodsTotal || !c.threshold || c.threshold <= goodsTotal)
      .map((c) => Object.assign({}, c, { text: couponText(c) }))
  },
  chooseCoupon(e) {
    const id = e.currentTarget.dataset.id || ''
    const coupon = this.data.coupons.find((c) => c.id === id)
    const same = id && id === this.data.couponId
    this.setData({ couponId: same || !coupon ? '' : id, couponText: same || !coupon ? '' : coupon.name + ' ' + coupon.text })
    return this.refreshPreview()
  },
  chooseDelivery(e) {
    const delivery = e.currentTarget.dataset.delivery
    this.setData({ delivery })
    if (delivery === 'pickup' && !this.data.stores.length && !this.data.storesLoading) {
      return this.loadStores().then(() => this.refreshPreview())
    }
    return this.refreshPreview()
  },
  async loadStores() {
    this.setData({ storesLoading: true, storesError: '' })
    try {
      const loc = await getLocation()
      const res = await api.call('nearby_stores', { lat: loc.lat, lng: loc.lng, radius_m: 50000, page: 1, page_size: 20 })
      const stores = (res.items || []).map((s) => Object.assign({}, s, { distance: distanceText(s.distance_m) }))
      const preset = stores.find((s) => s.id === this.data.presetStoreId)
      this.setData({ stores, store: preset || this.data.store || stores[0] || null, storesLoading: false,
                     locationFallback: !!loc.fallback, fallbackName: loc.name || '' })
    } catch (e) {
      this.setData({ storesLoading: false, storesError: e.message })
    }
  },
  chooseStore(e) {
    const store = this.data.stores.find((s) => s.id === e.currentTarget.dataset.id)
    if (!store) return Promise.resolve(null)
    this.setData({ store })
    return this.refreshPreview()
  },
  async loadLines() {
    if (this.data.mode === 'buy') {
      // until the preview answers with the product (title, image, specs, price)
      return [{ sku_id: this.data.skuId, quantity: this.data.quantity, title: '', price: 0, specs: {} }]
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
      this.refreshPreview()
      return address
    } catch (e) { api.showError(e); return null }
  },
  // the address book (packages/address) in choose mode answers with the address tapped there
  pickAddress() {
    const current = this.data.address
    wx.navigateTo({
      url: '/packages/address/pages/list/list?mode=choose' + (current ? '&selected=' + current.id : ''),
      events: { chosen: (address) => this.setData({ address, addresses: this.data.addresses.filter((a) => a.id !== address.id).concat([address]) }) }
    })
  },
  chooseAddress(e) {
    const address = this.data.addresses.find((a) => a.id === e.currentTarget.dataset.id)
    if (!address) return Promise.resolve(null)
    this.setData({ address })
    return this.refreshPreview()
  },
  async submit() {
    if (this.data.submitting) return null
    const pickup = this.data.delivery === 'pickup'
    if (pickup && !this.data.store) { wx.showToast({ title: '请选择自提门店', icon: 'none' }); return null }
    if (!pickup && !this.data.address) { wx.showToast({ title: '请先填写收货地址', icon: 'none' }); return null }
    if (!this.data.lines.length) { wx.showToast({ title: '没有可结算的商品', icon: 'none' }); return null }
    this.setData({ submitting: true })
    const input = Object.assign({ request_id: this.data.requestId }, this.orderInput())
    try {
      const order = await api.call('place_order', input)
      this.setData({ submitting: false })
      wx.redirectTo({ url: '/packages/order/pages/detail/detail?id=' + order.id })
      return order
    } catch (e) {
      this.setData({ submitting: false })
      if (e.code === 'PURCHASE_LIMIT' || e.code === 'TOO_MANY_UNPAID') this.showLimit(e)
      else api.showError(e)
      return null
    }
  },
  // a limit's message names the product and the numbers: a toast would cut it, so a dialog;
  // when unpaid orders hold what is missing, it leads to them
  showLimit(err) {
    const toUnpaid = err.code === 'TOO_MANY_UNPAID' && (err.details || {}).already > 0
    wx.showModal({
      title: err.code === 'PURCHASE_LIMIT' ? '超出限购' : (toUnpaid ? '待支付订单过多' : '超出可购数量'),
      content: err.userMessage, showCancel: toUnpaid,
      confirmText: toUnpaid ? '去支付' : '知道了', cancelText: '取消',
      success: (res) => {
        if (toUnpaid && res.confirm) wx.navigateTo({ url: '/packages/order/pages/list/list?status=pending_payment' })
      }
    })
  }
})
