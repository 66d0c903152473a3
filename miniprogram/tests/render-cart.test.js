/** @jest-environment jsdom */
// Render test: the cart page's real WXML with the real price / empty-state components.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts, tap } = require('./helpers/render-page')
const config = require('../config')

// a tiny cart backend: the totals are those of the selected, valid lines
function cartBackend() {
  const items = [
    { sku_id: 'sku_a', title: '赣南脐橙', specs: { 规格: '5斤装' }, price: 3990, quantity: 2, selected: true, valid: true, image: 'a.png' },
    { sku_id: 'sku_b', title: '阿克苏苹果', specs: { 规格: '10斤装' }, price: 6990, quantity: 1, selected: true, valid: true, image: 'b.png' },
    { sku_id: 'sku_c', title: '下架的梨', specs: {}, price: 1000, quantity: 1, selected: false, valid: false, invalid_reason: '已下架', image: 'c.png' }
  ]
  const view = () => {
    const sel = items.filter((i) => i.selected && i.valid)
    return { items: JSON.parse(JSON.stringify(items)), selected_count: sel.reduce((n, i) => n + i.quantity, 0),
             selected_total: sel.reduce((n, i) => n + i.price * i.quantity, 0) }
  }
  return (o) => {
    const action = o.url.split('/api/')[1]
    if (action === 'cart_list') return { statusCode: 200, data: { ok: true, data: view() } }
    if (action === 'cart_update') {
      const item = items.find((i) => i.sku_id === o.data.sku_id)
      Object.assign(item, o.data.selected == null ? {} : { selected: o.data.selected }, o.data.quantity == null ? {} : { quantity: o.data.quantity })
      return { statusCode: 200, data: { ok: true, data: view() } }
    }
    return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  }
}

test('cart renders its lines, flags the invalid one and shows the selected total; a tap re-renders', async () => {
  config.mode = 'gateway'
  installApp()
  global.wx = createWx({ request: cartBackend() })
  const comp = renderPage('pages/cart/cart')
  await comp.instance.onShow()
  await simulate.sleep(0)

  const lines = texts(comp, '.main--line')
  expect(lines).toHaveLength(3)
  expect(lines[0]).toContain('赣南脐橙')
  expect(lines[0]).toContain('5斤装')
  expect(lines[0]).toContain('¥39.90')
  expect(lines[1]).toContain('阿克苏苹果')
  expect(lines[1]).toContain('¥69.90')
  // the invalid line carries its reason, and its checkbox is disabled and unchecked
  expect(lines[2]).toContain('下架的梨')
  expect(lines[2]).toContain('（已下架）')
  expect(lines[0]).not.toContain('（')
  const boxes = Array.from(comp.dom.querySelectorAll('wx-checkbox'))
  expect(boxes).toHaveLength(3)
  const stepper = texts(comp, '.main--stepper')
  expect(stepper[0]).toBe('－2＋删除')

  // selected total: 2 × 39.90 + 69.90 (the invalid line is not counted)
  expect(texts(comp, '.main--bottom-bar price')).toEqual(['¥149.70'])
  expect(texts(comp, '.main--bottom-bar wx-button')).toEqual(['结算(3)'])

  // unticking the apples through the rendered checkbox updates the total shown
  tap(comp.dom.querySelectorAll('wx-checkbox')[1])
  await simulate.sleep(10)
  expect(wx.named('request').map((o) => o.data).pop()).toMatchObject({ sku_id: 'sku_b', selected: false })
  expect(texts(comp, '.main--bottom-bar price')).toEqual(['¥79.80'])
  expect(texts(comp, '.main--bottom-bar wx-button')).toEqual(['结算(2)'])
})
