// Add or edit one address: name, phone (checked as the server does), the region picker
// (<picker mode="region">: province, city, district), the detail, and "default".
// ?id= edits that address; without it a new one (a WeChat import left to finish by hand comes
// as the draft in storage).
const api = require('../../../../services/api')
const book = require('../../address')

const EMPTY = { name: '', phone: '', province: '', city: '', district: '', detail: '', is_default: false }

Page({
  data: { id: '', form: Object.assign({}, EMPTY), region: [], saving: false, loading: false, error: '' },
  onLoad(options) {
    const id = (options && options.id) || ''
    this.setData({ id })
    if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: id ? '编辑收货地址' : '新增收货地址' })
    if (id) return this.load(id)
    const draft = wx.getStorageSync('address_draft')
    if (draft && typeof draft === 'object') {
      wx.removeStorageSync('address_draft')
      this.fill(Object.assign({}, EMPTY, draft))
    }
    return Promise.resolve()
  },
  fill(form) {
    const region = form.province ? [form.province, form.city, form.district].filter(Boolean) : []
    this.setData({ form, region })
  },
  async load(id) {
    this.setData({ loading: true, error: '' })
    try {
      const res = await api.call('list_addresses', {})
      const found = (res.items || []).find((a) => a.id === id)
      if (!found) throw new Error('地址不存在或已删除')
      this.fill(Object.assign({}, EMPTY, found))
      this.setData({ loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  onRetry() { return this.data.id ? this.load(this.data.id) : Promise.resolve() },
  onField(e) { this.setData({ ['form.' + e.currentTarget.dataset.field]: e.detail.value }) },
  onRegion(e) {
    const [province, city, district] = e.detail.value || []
    this.setData({ region: e.detail.value, 'form.province': province || '', 'form.city': city || '', 'form.district': district || '' })
  },
  onDefault(e) { this.setData({ 'form.is_default': !!e.detail.value }) },
  // the phone as typed: a mistake shows when the field is left, not only on save
  onPhoneBlur(e) {
    const phone = e.detail.value
    if (phone && !book.validPhone(phone)) wx.showToast({ title: '请填写正确的手机号', icon: 'none' })
  },
  async save() {
    if (this.data.saving) return null
    const bad = book.problem(this.data.form)
    if (bad) { wx.showToast({ title: bad, icon: 'none' }); return null }
    const input = Object.assign(book.toInput(this.data.form), { is_default: !!this.data.form.is_default })
    this.setData({ saving: true })
    try {
      const saved = this.data.id
        ? await api.call('update_address', Object.assign({ address_id: this.data.id }, input))
        : await api.call('add_address', input)
      this.setData({ saving: false })
      wx.showToast({ title: '已保存', icon: 'success' })
      wx.navigateBack({ delta: 1 })
      return saved
    } catch (err) {
      this.setData({ saving: false })
      api.showError(err)
      return null
    }
  },
  onDelete() {
    if (!this.data.id) return Promise.resolve(false)
    return new Promise((resolve) => {
      wx.showModal({
        title: '删除地址', content: '确定删除这个收货地址吗？', confirmText: '删除', confirmColor: '#e4393c',
        success: async (res) => {
          if (!res.confirm) return resolve(false)
          try {
            await api.call('delete_address', { address_id: this.data.id })
            wx.navigateBack({ delta: 1 })
            resolve(true)
          } catch (err) { api.showError(err); resolve(false) }
        },
        fail: () => resolve(false)
      })
    })
  }
})
