/** @jest-environment jsdom */
const path = require('path')
const simulate = require('miniprogram-simulate')

test('price component renders fen as yuan', async () => {
  const id = simulate.load(path.join(__dirname, '..', 'components', 'price', 'price'))
  const comp = simulate.render(id, { value: 1250 })
  comp.attach(document.createElement('parent-wrapper'))
  expect(comp.dom.textContent.trim()).toBe('¥12.50')

  comp.setData({ value: 3990 })
  await simulate.sleep(0)
  expect(comp.dom.textContent.trim()).toBe('¥39.90')

  const strike = simulate.render(id, { value: 99, strike: true })
  strike.attach(document.createElement('parent-wrapper'))
  expect(strike.dom.textContent.trim()).toBe('¥0.99')
  expect(strike.dom.innerHTML).toContain('price--strike')
})
