/** @jest-environment jsdom */
const path = require('path')
const simulate = require('miniprogram-simulate')

const SKUS = [
  { id: 'sku_a', specs: { 规格: '5斤装' }, price: 3990, stock: 0 },
  { id: 'sku_b', specs: { 规格: '10斤装' }, price: 6990, stock: 2 }
]

test('sku-picker selects the first SKU in stock, bounds the quantity and confirms', async () => {
  const id = simulate.load(path.join(__dirname, '..', 'components', 'sku-picker', 'sku-picker'), { rootPath: path.join(__dirname, '..') })
  const comp = simulate.render(id, { skus: SKUS, show: true })
  comp.attach(document.createElement('parent-wrapper'))
  await simulate.sleep(0)
  expect(comp.data.selectedId).toBe('sku_b')
  expect(comp.dom.textContent).toContain('¥69.90')
  comp.instance.onPlus(); comp.instance.onPlus(); comp.instance.onPlus()
  expect(comp.data.quantity).toBe(2)   // stock 2
  comp.instance.onPick({ currentTarget: { dataset: { id: 'sku_a' } } })
  expect(comp.data.selectedId).toBe('sku_b')   // out of stock cannot be picked
  const confirm = jest.fn()
  comp.addEventListener('confirm', confirm)
  comp.instance.onConfirm()
  await simulate.sleep(0)
  expect(confirm.mock.calls[0][0].detail).toMatchObject({ sku_id: 'sku_b', quantity: 2, action: 'cart' })
})
