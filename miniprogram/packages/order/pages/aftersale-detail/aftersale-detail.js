const api = require('../../../../services/api')
const { AFTER_SALE_TEXT, TYPE_TEXT } = require('../../aftersale-status')

const CANCELLABLE = ['pending_review', 'awaiting_return']

Page({
  data: { id: '', sale: null, statusText: '', typeText: '', canCancel: false,
          loading: true, error: '', busy: false, carrier: '', trackingNo: '' },
  onLoad(options) {
    this.setData({ id: (options && options.id) || '' })
    return this.load()
  },
  async load() {
    // opened without its id (a broken link or share): say so instead of the server's field error
    if (!this.data.id) { this.setData({ loading: false, error: '链接已失效，找不到这个售后单' }); return }
    this.setData({ loading: true, error: '' })
    try {
      this.show(await api.call('get_after_sale', { after_sale_id: this.data.id }))
    } catch (e) {
      this.setData({ loading: false, error: e.message })
    }
  },
  show(sale) {
    this.setData({ sale, loading: false, statusText: AFTER_SALE_TEXT[sale.status] || sale.status,
                   typeText: TYPE_TEXT[sale.type] || sale.type, canCancel: CANCELLABLE.indexOf(sale.status) >= 0 })
  },
  preview(e) { wx.previewImage({ current: e.currentTarget.dataset.url, urls: this.data.sale.images }) },
  onCarrier(e) { this.setData({ carrier: e.detail.value }) },
  onTracking(e) { this.setData({ trackingNo: e.detail.value }) },
  async run(action, input) {
    if (this.data.busy) return null
    this.setData({ busy: true })
    try {
      const sale = await api.call(action, input)
      if (sale && sale.id) this.show(sale); else await this.load()
      return sale
    } catch (e) {
      api.showError(e)
      return null
    } finally {
      this.setData({ busy: false })
    }
  },
  cancel() { return this.run('cancel_after_sale', { after_sale_id: this.data.id }) },
  submitShipment() {
    const carrier = (this.data.carrier || '').trim()
    const trackingNo = (this.data.trackingNo || '').trim()
    if (!carrier || !trackingNo) { wx.showToast({ title: '请填写快递公司和单号', icon: 'none' }); return Promise.resolve(null) }
    return this.run('submit_return_shipment', { after_sale_id: this.data.id, carrier, tracking_no: trackingNo })
  }
})
