Component({
  properties: { product: { type: Object, value: {} }, layout: { type: String, value: 'grid' } },
  methods: {
    onTap() {
      const id = this.data.product && this.data.product.id
      this.triggerEvent('select', { id })
      if (id) wx.navigateTo({ url: '/pages/product/product?id=' + id })
    }
  }
})
