// The address book: list, set default, delete (after a confirm), edit, add, and import from
// WeChat (wx.chooseAddress, on the tap). Opened with ?mode=choose (checkout), a tap on an
// address returns it through the opener's event channel ("chosen") and goes back.
const api = require('../../../../services/api')
const book = require('../../address')

Page({
  data: { items: [], loading: false, error: '', choose: false, selectedId: '', max: 20 },
  onLoad(options) {
    const o = options || {}
    this.setData({ choose: o.mode === 'choose', selectedId: o.selected || '' })
    if (this.data.choose && wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: '选择收货地址' })
  },
  onShow() { return this.load() },
  async load() {
    this.setData({ loading: true, error: '' })
    try {
      const res = await api.call('list_addresses', {})
      const items = (res.items || []).map((a) => Object.assign({}, a, { full: book.fullText(a) }))
      this.setData({ items, loading: false })
    } catch (e) { this.setData({ loading: false, error: e.message }) }
  },
  onTapItem(e) {
    const id = e.currentTarget.dataset.id
    if (!this.data.choose) return this.edit(id)
    return this.choose(id)
  },
  // hand the address to checkout through the event channel it opened us with
  choose(id) {
    const address = this.data.items.find((a) => a.id === id)
    if (!address) return null
    const plain = Object.assign({}, address)
    delete plain.full
    const channel = typeof this.getOpenerEventChannel === 'function' ? this.getOpenerEventChannel() : null
    if (channel && channel.emit) channel.emit('chosen', plain)
    wx.navigateBack({ delta: 1 })
    return plain
  },
  edit(id) { wx.navigateTo({ url: '/packages/address/pages/edit/edit' + (id ? '?id=' + encodeURIComponent(id) : '') }) },
  onEdit(e) { return this.edit(e.currentTarget.dataset.id) },
  onAdd() {
    if (this.data.items.length >= this.data.max) { wx.showToast({ title: '最多保存20个地址', icon: 'none' }); return }
    this.edit('')
  },
  async onDefault(e) {
    const { id, default: isDefault } = e.currentTarget.dataset
    if (isDefault) return null
    try {
      await api.call('update_address', { address_id: id, is_default: true })
      wx.showToast({ title: '已设为默认', icon: 'success' })
      return this.load()
    } catch (err) { api.showError(err); return null }
  },
  onDelete(e) {
    const id = e.currentTarget.dataset.id
    return new Promise((resolve) => {
      wx.showModal({
        title: '删除地址', content: '确定删除这个收货地址吗？', confirmText: '删除', confirmColor: '#e4393c',
        success: async (res) => {
          if (!res.confirm) return resolve(false)
          try {
            await api.call('delete_address', { address_id: id })
            await this.load()
            resolve(true)
          } catch (err) { api.showError(err); resolve(false) }
        },
        fail: () => resolve(false)
      })
    })
  },
  // wx.chooseAddress must run on the user's tap (it is refused otherwise): this is that tap
  onImport() {
    return new Promise((resolve) => {
      wx.chooseAddress({
        success: async (res) => {
          const form = book.fromWechat(res)
          const bad = book.problem(form)
          if (bad) {   // e.g. a phone our shop cannot reach: finish it by hand
            wx.setStorageSync('address_draft', form)
            this.edit('')
            return resolve(null)
          }
          try {
            const saved = await api.call('add_address', book.toInput(form))
            wx.showToast({ title: '已导入', icon: 'success' })
            await this.load()
            if (this.data.choose) this.choose(saved.id)
            resolve(saved)
          } catch (err) { api.showError(err); resolve(null) }
        },
        fail: (err) => {
          // cancelled: nothing to say; refused: the settings page can turn it on again
          if (err && /auth|deny/.test(err.errMsg || '')) wx.showToast({ title: '请在设置中允许使用通讯地址', icon: 'none' })
          resolve(null)
        }
      })
    })
  },
  onRetry() { return this.load() }
})
