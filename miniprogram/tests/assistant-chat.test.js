/** @jest-environment node */
// The assistant's chat page (packages/assistant): asks assistant_ask, keeps the session, shows
// product cards, order lines and quick replies, and the way to a person on a handoff.
const fs = require('fs')
const path = require('path')
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const CHAT = 'packages/assistant/pages/chat/chat'

beforeEach(() => { config.mode = 'gateway'; config.dev = true; installApp() })

function fakeShop(answers) {
  return createWx({ request: (o) => {
    if (action(o) === 'login') return ok({ token: 't', user: { id: 'usr_1' } })
    return ok(answers.shift())
  } })
}
const asked = () => wx.named('request').filter((r) => action(r) === 'assistant_ask').map((r) => r.data)

test('a question and its follow-up go in one session, with cards and quick replies', async () => {
  global.wx = fakeShop([
    { session_id: 'ses_1', intent: 'product_search', answer: '为您找到1款', products: [{ id: 'prd_026', title: '不锈钢保温杯', price: 8900, image: '' }], orders: [], handoff: false, suggestions: ['还有别的颜色吗'] },
    { session_id: 'ses_1', intent: 'product_question', answer: '没有红色款', products: [{ id: 'prd_026', title: '不锈钢保温杯', price: 8900, image: '' }], orders: [], handoff: false, suggestions: [] }
  ])
  const page = createPage(CHAT)
  page.onLoad({})
  await page.ask('有没有100元以内的保温杯')
  expect(page.data.messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant'])
  expect(page.data.messages[2].products[0].id).toBe('prd_026')
  expect(page.data.suggestions).toEqual(['还有别的颜色吗'])
  await page.onQuick({ currentTarget: { dataset: { text: '那红色的呢' } } })
  expect(asked()).toEqual([{ message: '有没有100元以内的保温杯' }, { message: '那红色的呢', session_id: 'ses_1' }])
  expect(page.data.handoff).toBe(false)
})

test('a handoff shows the contact button; an empty message is not sent', async () => {
  global.wx = fakeShop([{ session_id: 'ses_2', intent: 'handoff', answer: '已为您转接人工客服', products: [], orders: [], handoff: true, suggestions: [] }])
  const page = createPage(CHAT)
  page.onLoad({})
  expect(await page.ask('   ')).toBeNull()
  await page.ask('转人工')
  expect(page.data.handoff).toBe(true)
  const wxml = fs.readFileSync(path.join(__dirname, '..', CHAT + '.wxml'), 'utf8')
  expect(wxml).toContain('open-type="contact"')
})

test('opened from an order, the first question is about orders', async () => {
  global.wx = fakeShop([{ session_id: 'ses_3', intent: 'order_status', answer: '您最近的订单', products: [], orders: [{ id: 'ord_1', status: 'shipped', tracking_no: 'SF1' }], handoff: false, suggestions: [] }])
  const page = createPage(CHAT)
  await page.onLoad({ order_id: 'ord_1' })
  expect(asked()).toEqual([{ message: '我的订单到哪了' }])
  expect(page.data.messages[2].orders[0].tracking_no).toBe('SF1')
})

test('the chat is a subpackage reachable from me, the product page and order detail', () => {
  const root = path.join(__dirname, '..')
  const app = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'))
  expect(app.subPackages.find((s) => s.root === 'packages/assistant').pages).toEqual(['pages/chat/chat'])
  const url = '/packages/assistant/pages/chat/chat'
  expect(fs.readFileSync(path.join(root, 'pages/me/me.wxml'), 'utf8')).toContain(url)
  expect(fs.readFileSync(path.join(root, 'pages/product/product.js'), 'utf8')).toContain(url)
  expect(fs.readFileSync(path.join(root, 'packages/order/pages/detail/detail.js'), 'utf8')).toContain(url)
})
