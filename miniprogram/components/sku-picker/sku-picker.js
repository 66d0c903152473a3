// Pick one SKU and a quantity; emits "confirm" {sku_id, quantity, sku}.
Component({
  properties: {
    skus: { type: Array, value: [] },
    show: { type: Boolean, value: false },
    action: { type: String, value: 'cart' },   // cart | buy
    limit: { type: Number, value: 0 }          // 限购: at most this many at once (0: none)
  },
  data: { selectedId: '', quantity: 1, selected: null },
  observers: {
    skus(list) {
      const first = (list || []).find((s) => s.stock > 0) || null
      this.setData({ selectedId: first ? first.id : '', selected: first, quantity: 1 })
    }
  },
  methods: {
    specText(sku) { return Object.values(sku.specs || {}).join(' ') },
    onPick(e) {
      const sku = this.data.skus.find((s) => s.id === e.currentTarget.dataset.id)
      if (!sku || sku.stock <= 0) return
      this.setData({ selectedId: sku.id, selected: sku, quantity: Math.min(this.data.quantity, sku.stock) })
    },
    onMinus() { if (this.data.quantity > 1) this.setData({ quantity: this.data.quantity - 1 }) },
    onPlus() {
      const stock = this.data.selected ? this.data.selected.stock : 1
      const max = this.data.limit > 0 ? Math.min(stock, this.data.limit) : stock
      if (this.data.quantity < max) this.setData({ quantity: this.data.quantity + 1 })
      else if (this.data.limit > 0 && this.data.quantity >= this.data.limit) wx.showToast({ title: '限购' + this.data.limit + '件', icon: 'none' })
    },
    onClose() { this.triggerEvent('close') },
    onConfirm() {
      if (!this.data.selected) { wx.showToast({ title: '请选择规格', icon: 'none' }); return }
      this.triggerEvent('confirm', { sku_id: this.data.selectedId, quantity: this.data.quantity, sku: this.data.selected, action: this.data.action })
    }
  }
})
