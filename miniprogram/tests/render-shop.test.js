/** @jest-environment jsdom */
// Render tests (real WXML and components, the demo shop's answers): category, product, me.
const { openPage, texts, tap } = require('./helpers/render-page')
const { backend, DEMO } = require('./helpers/answers')

test('category: the categories with their icons down the side, the first one\'s products with prices', async () => {
  const comp = await openPage('pages/category/category', {}, { request: backend() })
  expect(texts(comp, '.main--side__item')).toEqual(DEMO.list_categories.items.map((c) => c.name))
  const icons = Array.from(comp.dom.querySelectorAll('.main--side__item wx-image'))
    .map((n) => n.__wxElement._vt.attrs.find((a) => a.name === 'src').value)
  expect(icons[0]).toBe('/assets/category/cat_fruit.png')
  const cards = texts(comp, 'product-card')
  expect(cards.length).toBeGreaterThan(3)
  expect(cards[0]).toContain('赣南脐橙')
  expect(cards[0]).toContain('¥39.90')
  // a tap on another category asks for its products
  tap(comp.dom.querySelectorAll('.main--side__item')[1])
  await new Promise((r) => setTimeout(r, 20))
  expect(wx.named('request').map((o) => o.data).pop()).toMatchObject({ category_id: DEMO.list_categories.items[1].id })
})

test('product: price, title, subtitle and the buy bar; recommendations below', async () => {
  const comp = await openPage('pages/product/product', { id: DEMO.get_product.id }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('¥39.90')
  expect(text).toContain('赣南脐橙')
  expect(text).toContain('果园直发 甜度13+')
  expect(texts(comp, 'wx-button')).toEqual(expect.arrayContaining(['加入购物车', '立即购买']))
  expect(texts(comp, 'reco-list product-card').length).toBeGreaterThan(0)
})

test('me: the nickname and the entries to orders, after-sales, membership, coupons', async () => {
  const comp = await openPage('pages/me/me', {}, { request: backend() })
  const text = comp.dom.textContent
  // the nickname is the value of WeChat's nickname input (the simulator renders no input
  // value, so the bound data is read); the order counts come from order_counts
  expect(comp.querySelector('.nickname')).toBeTruthy()
  expect(comp.instance.data.profile.nickname)
    .toBe(DEMO.get_profile.nickname)
  expect(text).toContain(`${DEMO.order_counts.pending_payment}待付款`)
  for (const entry of ['我的订单', '退款/售后', '会员与签到', '我的优惠券']) expect(text).toContain(entry)
})
