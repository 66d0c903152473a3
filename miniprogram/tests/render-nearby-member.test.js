/** @jest-environment jsdom */
// Render tests of the nearby and member subpackages.
const { openPage, texts } = require('./helpers/render-page')
const { backend, DEMO } = require('./helpers/answers')

const LOCATION = { latitude: 31.238, longitude: 121.5025 }

test('stores: the nearest stores with distance, address, hours and whether open', async () => {
  const comp = await openPage('packages/nearby/pages/stores/stores', {}, { request: backend(), location: LOCATION })
  const text = comp.dom.textContent
  expect(text).toContain('陆家嘴旗舰店')
  expect(text).toContain('177m')
  expect(text).toContain('上海市浦东新区陆家嘴环路1000号')
  expect(text).toContain('营业中')
})

test('deals: each deal with its price and store', async () => {
  const comp = await openPage('packages/nearby/pages/deals/deals', {}, { request: backend(), location: LOCATION })
  const text = comp.dom.textContent
  expect(text).toContain('西湖龙井')
  expect(text).toContain('¥128.00')
  expect(text).toContain('陆家嘴旗舰店')
})

test('store: the store card and its deals', async () => {
  const store = DEMO.nearby_stores.items[0]
  const comp = await openPage('packages/nearby/pages/store/store', { store_id: store.id }, { request: backend(), location: LOCATION })
  const text = comp.dom.textContent
  expect(text).toContain(store.name)
  expect(text).toContain('本店优惠')
  expect(text).toContain('西湖龙井¥128.00')
  expect(texts(comp, 'wx-button')).toContain('购物车到店自提')
})

test('membership: level, growth to the next level, points and sign-in', async () => {
  const comp = await openPage('packages/member/pages/membership/membership', {}, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('成长值 0')
  expect(text).toContain('积分 0')
  expect(texts(comp, 'wx-button').join(' ')).toContain('签到')
})

test('points: the balance and a ledger line', async () => {
  const comp = await openPage('packages/member/pages/points/points', {}, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('当前积分 10')
  expect(text).toContain('每日签到')
  expect(text).toContain('+10')
})

test('coupons: the tabs and a coupon with its amount and rule', async () => {
  const comp = await openPage('packages/member/pages/coupons/coupons', {}, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('可使用')
  expect(text).toContain('新人满99减10')
  expect(text).toContain('¥10.00')
})

test('coupon center: a coupon to claim', async () => {
  const comp = await openPage('packages/member/pages/center/center', {}, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('新人满99减10')
  expect(texts(comp, 'wx-button')).toContain('立即领取')
})
