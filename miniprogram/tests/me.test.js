/** @jest-environment node */
// The Me page: profile with avatar (chooseAvatar -> get_upload_url purpose avatar -> PUT ->
// update_profile) and nickname (<input type="nickname">), order shortcuts with order_counts.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ROUTE = 'pages/me/me'
const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => (o.url.indexOf('/api/') >= 0 ? o.url.split('/api/')[1] : 'PUT ' + o.url)
const PROFILE = { id: 'usr_1', nickname: '微信用户', avatar_url: '' }

function shop(opts) {
  const o = opts || {}
  let profile = Object.assign({}, PROFILE)
  return createWx({
    files: { 'wxfile://tmp/avatar.png': new Uint8Array([1, 2, 3]).buffer },
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'get_profile') return ok(profile)
      if (a === 'order_counts') return o.countsFail ? { statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } } : ok(o.counts || { pending_payment: 2, to_ship: 0, to_receive: 1, after_sale: 120 })
      if (a === 'get_upload_url') return ok({ upload_url: 'https://cos.test/avatar/usr_1/x.png?sig=1', method: 'PUT', headers: { 'Content-Type': 'image/png' }, key: 'avatar/usr_1/x.png', file_url: 'https://cos.test/avatar/usr_1/x.png' })
      if (a.startsWith('PUT ')) return { statusCode: 200, data: '' }
      if (a === 'update_profile') {
        if (o.refuseNickname && r.data.nickname) return { statusCode: 422, data: { ok: false, error: { code: 'VALIDATION_ERROR', message_zh: '昵称不合规' } } }
        profile = Object.assign({}, profile, r.data); return ok(profile)
      }
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('the shortcuts show the counts of order_counts, 99+ beyond 99', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onShow()
  expect(page.data.profile.nickname).toBe('微信用户')
  const byKey = Object.fromEntries(page.data.shortcuts.map((s) => [s.key, s]))
  expect(byKey.pending_payment).toMatchObject({ text: '待付款', count: 2, badge: '2' })
  expect(byKey.to_ship).toMatchObject({ text: '待发货', count: 0, badge: '' })
  expect(byKey.to_receive).toMatchObject({ text: '待收货', count: 1 })
  expect(byKey.after_sale.badge).toBe('99+')
  expect(byKey.pending_payment.url).toBe('/packages/order/pages/list/list?status=pending_payment')
  expect(byKey.to_ship.url).toBe('/packages/order/pages/list/list?status=paid')
  expect(byKey.to_receive.url).toBe('/packages/order/pages/list/list?status=shipped')
})

test('without counts the page still shows the profile', async () => {
  global.wx = shop({ countsFail: true })
  const page = createPage(ROUTE)
  await page.onShow()
  expect(page.data.error).toBe('')
  expect(page.data.profile.id).toBe('usr_1')
  expect(page.data.shortcuts.every((s) => s.count === 0)).toBe(true)
})

test('a chosen avatar is uploaded for purpose avatar and saved on the profile', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onShow()
  const profile = await page.onChooseAvatar({ detail: { avatarUrl: 'wxfile://tmp/avatar.png' } })
  expect(sent('get_upload_url')).toEqual([{ content_type: 'image/png', purpose: 'avatar', size: 3 }])
  expect(wx.named('request').filter((r) => r.method === 'PUT')).toHaveLength(1)
  expect(sent('update_profile')).toEqual([{ avatar_url: 'https://cos.test/avatar/usr_1/x.png' }])
  expect(profile.avatar_url).toBe('https://cos.test/avatar/usr_1/x.png')
  expect(page.data.profile.avatar_url).toBe('https://cos.test/avatar/usr_1/x.png')
})

test('a nickname is saved when it changed, trimmed; the same one sends nothing', async () => {
  global.wx = shop()
  const page = createPage(ROUTE)
  await page.onShow()
  await page.onNickname({ detail: { value: '微信用户' } })
  await page.onNickname({ detail: { value: '   ' } })
  expect(sent('update_profile')).toHaveLength(0)
  await page.onNickname({ detail: { value: ' 小红 ' } })
  expect(sent('update_profile')).toEqual([{ nickname: '小红' }])
  expect(page.data.profile.nickname).toBe('小红')
})

test('a refused nickname shows the Chinese reason', async () => {
  global.wx = shop({ refuseNickname: true })
  const page = createPage(ROUTE)
  await page.onShow()
  expect(await page.onNickname({ detail: { value: '坏名字' } })).toBe(null)
  expect(wx.named('showToast').map((t) => t.title)).toContain('昵称不合规')
})

test('where WeChat reviews nicknames, one is saved only once it passed', async () => {
  global.wx = shop()
  wx.canIUse = (what) => what === 'input.bindnicknamereview'
  const page = createPage(ROUTE)
  await page.onShow()
  await page.onNickname({ detail: { value: '坏名字' } })
  expect(sent('update_profile')).toHaveLength(0)        // waits for the review
  await page.onNicknameReview({ detail: { pass: false, timeout: false } })
  expect(sent('update_profile')).toHaveLength(0)
  expect(wx.named('showToast')[0].title).toMatch('不合规')
  await page.onNickname({ detail: { value: '小明' } })
  await page.onNicknameReview({ detail: { pass: true, timeout: false } })
  expect(sent('update_profile')).toEqual([{ nickname: '小明' }])
})

test('the entries reach the address book, coupons, points, membership and the assistant', () => {
  const wxml = require('fs').readFileSync(require('path').join(__dirname, '..', 'pages/me/me.wxml'), 'utf8')
  const urls = Array.from(wxml.matchAll(/data-url="([^"{]+)"/g), (m) => m[1])
  expect(urls).toEqual(expect.arrayContaining([
    '/packages/address/pages/list/list', '/packages/member/pages/coupons/coupons',
    '/packages/member/pages/points/points', '/packages/member/pages/membership/membership',
    '/packages/assistant/pages/chat/chat', '/packages/live/pages/list/list', '/packages/live/pages/leader/leader']))
  const app = require('../app.json')
  const pages = new Set(app.pages.concat(...app.subPackages.map((s) => s.pages.map((p) => s.root + '/' + p))))
  for (const url of urls) expect(pages.has(url.slice(1).split('?')[0])).toBe(true)
})
