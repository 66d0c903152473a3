/** @jest-environment jsdom */
// The recommendation strip: what it asks recommend_for_user, its cards with their reasons, its
// 加载更多 paging, and that it hides itself when the call fails.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const config = require('../config')

const page = (n, size) => Array.from({ length: size }, (_, i) => ({
  product: { id: `p${n}-${i}`, title: `商品${n}-${i}`, subtitle: '', price: 1000, image: '' },
  reason: i === 0 ? '买过的再来一单' : '同类热卖'
}))

test('reco-list shows reasons, pages on 加载更多 and hides on failure', async () => {
  config.mode = 'gateway'
  const asked = []
  let fail = false
  global.wx = createWx({
    request: (o) => {
      const action = o.url.split('/api/')[1]
      if (action === 'recommend_for_user' && !fail) {
        asked.push(o.data)
        const items = o.data.page === 1 ? page(1, 2) : page(2, 1)
        return { statusCode: 200, data: { ok: true, data: { items, model_version: 'v1' } } }
      }
      return { statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } }
    }
  })
  const id = simulate.load(path.join(__dirname, '..', 'components', 'reco-list', 'reco-list'),
    { rootPath: path.join(__dirname, '..') })
  const comp = simulate.render(id, { context: 'home', title: '猜你喜欢', pageSize: 2, paged: true })
  comp.attach(document.createElement('parent-wrapper'))
  await simulate.sleep(20)

  // the device id is the reco_algorithm A/B subject before login, the one tracking sends
  expect(asked[0]).toEqual({ context: 'home', page: 1, page_size: 2, device_id: wx.getStorageSync('shop_device_id') })
  expect(comp.dom.textContent).toContain('猜你喜欢')
  expect(comp.dom.querySelectorAll('product-card')).toHaveLength(2)
  expect(comp.querySelector('.reco__reason').dom.textContent).toBe('买过的再来一单')
  expect(comp.querySelector('.reco__more')).toBeTruthy()

  await comp.instance.onMore()
  await simulate.sleep(10)
  expect(asked[1]).toEqual({ context: 'home', page: 2, page_size: 2, device_id: wx.getStorageSync('shop_device_id') })
  expect(comp.dom.querySelectorAll('product-card')).toHaveLength(3)
  expect(comp.querySelector('.reco__more')).toBeFalsy() // a short page: no more

  fail = true
  await comp.instance.reload()
  await simulate.sleep(10)
  expect(comp.dom.querySelectorAll('product-card')).toHaveLength(0)
  expect(comp.dom.textContent).not.toContain('猜你喜欢')
})
