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
