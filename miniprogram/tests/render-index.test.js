/** @jest-environment jsdom */
// Render test: the home page's real WXML with the real product-card (and its price) components.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts, tap } = require('./helpers/render-page')
const config = require('../config')

const PRODUCTS = [
  { id: 'p1', title: '赣南脐橙', subtitle: '当季现摘', price: 3990, sales: 120, image: 'p1.png' },
  { id: 'p2', title: '阿克苏苹果', subtitle: '冰糖心', price: 6990, sales: 0, image: 'p2.png' },
  { id: 'p3', title: '丹东草莓', subtitle: '', price: 1250, image: 'p3.png' }
]

test('home renders categories and the product feed as product cards with yuan prices', async () => {
  config.mode = 'gateway'
  installApp()
  global.wx = createWx({
    request: (o) => {
      const action = o.url.split('/api/')[1]
      if (action === 'list_products') return { statusCode: 200, data: { ok: true, data: { items: PRODUCTS, page: 1, pages: 1 } } }
      if (action === 'list_categories') return { statusCode: 200, data: { ok: true, data: { items: [{ id: 'c1', name: '水果' }, { id: 'c2', name: '蔬菜' }] } } }
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
  const comp = renderPage('pages/index/index')
  await comp.instance.onLoad()
  await simulate.sleep(0)

  expect(texts(comp, '.main--cat')).toEqual(['水果', '蔬菜'])
  expect(texts(comp, '.main--entry')).toEqual(['附近精选', '今日特惠', '砍价 · 助力'])   // the campaigns page (issue 21)

  // one product-card per product, each rendering its title, subtitle, price (as yuan) and sales
  const cards = Array.from(comp.dom.querySelectorAll('.main--feed product-card'))
  expect(cards).toHaveLength(3)
  const card = (i, cls) => cards[i].querySelector('.product-card--' + cls).textContent.trim()
  expect(card(0, 'card__title')).toBe('赣南脐橙')
  expect(card(0, 'card__sub')).toBe('当季现摘')
  expect(cards[0].querySelector('price').textContent.trim()).toBe('¥39.90')
  expect(card(0, 'card__sales')).toBe('已售 120')
  expect(card(1, 'card__title')).toBe('阿克苏苹果')
  expect(cards[1].querySelector('price').textContent.trim()).toBe('¥69.90')
  expect(card(2, 'card__title')).toBe('丹东草莓')
  expect(cards[2].querySelector('price').textContent.trim()).toBe('¥12.50')
  expect(card(2, 'card__sales')).toBe('已售 0')

  // the first products feed the banner, the end of the list says so, and no empty/error state shows
  expect(comp.dom.querySelectorAll('wx-swiper-item')).toHaveLength(3)
  expect(texts(comp, '.main--no-more')).toEqual(['没有更多了'])
  expect(comp.dom.querySelector('empty-state')).toBeNull()

  // tapping a rendered card opens that product
  tap(cards[1].querySelector('.product-card--card'))
  await simulate.sleep(0)
  expect(wx.named('navigateTo').pop().url).toBe('/pages/product/product?id=p2')
})
