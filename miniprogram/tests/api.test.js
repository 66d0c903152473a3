/** @jest-environment node */
const { createWx } = require('./helpers/wx')
const config = require('../config')
const api = require('../services/api')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (status, error) => ({ statusCode: status, data: { ok: false, error: Object.assign({ message: 'english raw text', details: {} }, error) } })
const action = (o) => o.url.split('/api/')[1]

beforeEach(() => { config.mode = 'gateway'; config.dev = true; config.gatewayBase = 'http://gw.test' })

test('a 401 logs in again once and retries with the new token', async () => {
  global.wx = createWx({
    request: (o) => {
      if (action(o) === 'login') return ok({ token: 'fresh-token', user: { id: 'u1' } })
      if (o.header.Authorization === 'Bearer fresh-token') return ok({ items: [], selected_count: 0 })
      return fail(401, { code: 'UNAUTHENTICATED', message_zh: '请先登录' })
    }
  })
  wx.setStorageSync(api.TOKEN_KEY, 'stale-token')
  const data = await api.call('cart_list', {})
  expect(data).toEqual({ items: [], selected_count: 0 })
  const reqs = wx.named('request')
  expect(reqs.map(action)).toEqual(['cart_list', 'login', 'cart_list'])
  expect(reqs[0].header.Authorization).toBe('Bearer stale-token')
  expect(reqs[0].method).toBe('POST')
  expect(reqs[0].url).toBe('http://gw.test/api/cart_list')
  // gateway dev mode: the dev sandbox code, with a stored random name reused across logins
  expect(reqs[1].data.code).toMatch(/^dev:mp[0-9a-z]+$/)
  expect(wx.getStorageSync('shop_dev_name')).toBe(reqs[1].data.code.slice(4))
  expect(wx.getStorageSync(api.TOKEN_KEY)).toBe('fresh-token')
})

test('only one retry: a second 401 becomes a Chinese error', async () => {
  global.wx = createWx({
    request: (o) => action(o) === 'login' ? ok({ token: 't2' }) : fail(401, { code: 'UNAUTHENTICATED', message_zh: '请先登录' })
  })
  await expect(api.call('get_profile', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: '请先登录' })
  expect(wx.named('request').map(action)).toEqual(['get_profile', 'login', 'get_profile'])
})

test('an error envelope becomes a Chinese message, never the raw error', async () => {
  const answers = [
    fail(409, { code: 'OUT_OF_STOCK', message_zh: '库存不足' }),
    fail(409, { code: 'COUPON_UNAVAILABLE', message_zh: '' }),          // by code
    fail(500, { code: 'SOMETHING_NEW' }),                               // unknown code
    { statusCode: 502, data: '<html>Bad gateway</html>' }               // not an envelope
  ]
  global.wx = createWx({ request: () => answers.shift() })
  const messages = []
  for (let i = 0; i < 4; i++) {
    try { await api.call('place_order', {}) } catch (e) { messages.push(e.message) }
  }
  expect(messages).toEqual(['库存不足', '优惠券不可用', '服务器开小差了，请稍后再试', '服务器开小差了，请稍后再试'])
  messages.forEach((m) => expect(m).not.toMatch(/english|html/))

  global.wx = createWx({ request: () => { throw new Error('ECONNREFUSED') } })
  await expect(api.call('list_products', {})).rejects.toMatchObject({ code: 'NETWORK', message: '网络不给力，请检查网络后重试' })
})

test('showError toasts the Chinese message', async () => {
  global.wx = createWx({ request: () => fail(422, { code: 'VALIDATION_ERROR', message_zh: '输入有误' }) })
  try { await api.call('add_address', {}) } catch (e) { api.showError(e) }
  expect(wx.named('showToast')[0]).toMatchObject({ title: '输入有误', icon: 'none' })
})

test('cloud mode calls the function by name with the token and logs in with wx.login', async () => {
  config.mode = 'cloud'
  global.wx = createWx({
    loginCode: 'real-wx-code',
    callFunction: (o) => {
      if (o.name === 'login') return { result: { ok: true, data: { token: 'cloud-token' } } }
      if (o.data._token === 'cloud-token') return { result: { ok: true, data: { id: 'prd_1' } } }
      return { result: { ok: false, error: { code: 'UNAUTHENTICATED', message_zh: '请先登录' } } }
    }
  })
  const data = await api.call('get_profile', { x: 1 })
  expect(data).toEqual({ id: 'prd_1' })
  const calls = wx.named('callFunction')
  expect(calls.map((c) => c.name)).toEqual(['get_profile', 'login', 'get_profile'])
  expect(calls[1].data).toEqual({ code: 'real-wx-code' })
  expect(calls[2].data).toEqual({ x: 1, _token: 'cloud-token' })
  expect(wx.named('request')).toHaveLength(0)
})
