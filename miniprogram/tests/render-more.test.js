/** @jest-environment jsdom */
// Render tests of the AR, assistant and live subpackages.
const { openPage, texts } = require('./helpers/render-page')
const { backend, DEMO } = require('./helpers/answers')

test('AR try-on on a phone without AR: the fallback picture, the product and 立即购买', async () => {
  const product = JSON.parse(JSON.stringify(DEMO.get_product))
  product.skus[0].ar = { mode: 'face', glb_url: 'https://media.example.com/glasses.glb', fallback_image: 'https://media.example.com/glasses.png' }
  const comp = await openPage('packages/ar/pages/tryon/tryon', { product_id: product.id }, { request: backend({ get_product: product }) })
  const text = comp.dom.textContent
  expect(text).toContain('你的手机暂不支持AR试穿')
  expect(text).toContain('赣南脐橙')
  expect(texts(comp, 'wx-button')).toContain('立即购买')
})

test('assistant chat: the welcome, quick questions; a question gets products back', async () => {
  const comp = await openPage('packages/assistant/pages/chat/chat', {}, { request: backend() })
  expect(comp.dom.textContent).toContain('您好，我是智能客服')
  const chips = comp.dom.querySelectorAll('.main--chip')
  expect(chips.length).toBeGreaterThan(0)
  await comp.instance.ask('推荐脐橙')
  await new Promise((r) => setTimeout(r, 20))
  const text = comp.dom.textContent
  expect(text).toContain('为您找到这些脐橙')
  expect(texts(comp, '.main--card')[0]).toContain('¥39.90')
})

test('live list: a room with its status, anchor and product count', async () => {
  const comp = await openPage('packages/live/pages/list/list', {}, { request: backend() })
  const rooms = texts(comp, '.main--room')
  expect(rooms[0]).toContain('脐橙产地直播')
  expect(rooms[0]).toContain('直播中')
  expect(rooms[0]).toContain('1 件商品')
})

test('live room (upcoming): the countdown, the reminder button and the room\'s products', async () => {
  const comp = await openPage('packages/live/pages/room/room', { id: 'lr_2' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('草莓季预告')
  expect(text).toContain('距开播')
  expect(texts(comp, 'wx-button')).toContain('开播提醒')
  expect(texts(comp, '.main--product')[0]).toContain('¥89.00')
})

test('community: the group, its pickup point, the join button and member prices', async () => {
  const comp = await openPage('packages/live/pages/community/community', { id: 'cm_1' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('陆家嘴水果团')
  expect(text).toContain('128 位成员')
  expect(text).toContain('自提点：陆家嘴旗舰店')
  expect(texts(comp, 'wx-button')).toContain('加入社群，享会员价')
  expect(text).toContain('¥35.90')
})

test('leader dashboard: members, orders and the commissions in yuan', async () => {
  const comp = await openPage('packages/live/pages/leader/leader', {}, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('128成员')
  expect(text).toContain('待结算佣金¥34.00')
  expect(text).toContain('本月佣金¥20.00')
})
