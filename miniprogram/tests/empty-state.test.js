/** @jest-environment jsdom */
// (one simulate.load per test file: miniprogram-simulate 1.6 mixes up two compiled templates)
const path = require('path')
const simulate = require('miniprogram-simulate')

test('empty-state component shows its text and emits retry', () => {
  const id = simulate.load(path.join(__dirname, '..', 'components', 'empty-state', 'empty-state'))
  const comp = simulate.render(id, { type: 'error', text: '网络不给力' })
  comp.attach(document.createElement('parent-wrapper'))
  expect(comp.dom.textContent).toContain('网络不给力')
  const retry = jest.fn()
  comp.addEventListener('retry', retry)
  comp.querySelector('.empty__btn').dispatchEvent('tap')
  return simulate.sleep(10).then(() => expect(retry).toHaveBeenCalled())
})

test('empty-state shows the illustration of its kind; a network error the network one', () => {
  require('./helpers/render-page') // lets simulate.load run the component's JS a second time
  const id = simulate.load(path.join(__dirname, '..', 'components', 'empty-state', 'empty-state'))
  const src = (props) => {
    const comp = simulate.render(id, props)
    comp.attach(document.createElement('parent-wrapper'))
    const img = comp.dom.querySelector('wx-image')
    return img.__wxElement._vt.attrs.find((a) => a.name === 'src').value
  }
  expect(src({ kind: 'cart', text: '购物车是空的' })).toBe('/assets/empty/cart.png')
  expect(src({ kind: 'orders' })).toBe('/assets/empty/orders.png')
  expect(src({ type: 'error', text: '网络不给力，请检查网络后重试' })).toBe('/assets/empty/network.png')
  expect(src({ type: 'error', text: '内容不存在' })).toBe('/assets/empty/box.png')
  expect(src({})).toBe('/assets/empty/box.png')
})
