/** @jest-environment node */
const path = require('path')
const { createWx } = require('./helpers/wx')
const { createPage, installApp, ROOT } = require('./helpers/page')
const config = require('../config')
const share = require('../services/share')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (code, status) => ({ statusCode: status || 400, data: { ok: false, error: { code } } })
const action = (o) => o.url.split('/api/')[1]
const flush = () => new Promise((r) => setTimeout(r, 0))

function shop(o) {
  const opts = o || {}
  return createWx({
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok-1' })
      if (a === 'create_share') {
        if (opts.shareFails) return fail('INTERNAL', 500)
        return ok({ share_id: 'shr_1', code: 'C0DE' + r.data.target, path: 'ignored?s=x' })
      }
      if (a === 'track_share_open') return opts.trackFails ? fail('NOT_FOUND', 404) : ok({ share_id: 'shr_1', target: 'product', target_id: 'prd_1', is_own: false, first_touch: true })
      if (a === 'get_product') return ok({ id: 'prd_1', title: '好茶', skus: [] })
      if (a === 'list_group_buys') return ok({ items: [] })
      if (a === 'get_team') return ok({ id: 'team_1', status: 'forming', members: [{ nickname: 'a' }], seats_left: 1, team_size: 2 })
      if (a === 'get_group_buy') return ok({ id: 'gb_1', product: { id: 'prd_1', title: '好茶' }, sku_prices: [{ sku_id: 'sku_1', group_price: 100 }], team_size: 2 })
      return fail('UNKNOWN_ACTION', 404)
    }
  })
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

// App({...}) captured once; each test gets a fresh app instance
let appDef
function createApp() {
  if (!appDef) { global.App = (d) => { appDef = d }; require(path.join(ROOT, 'app.js')) }
  const app = {}
  for (const [k, v] of Object.entries(appDef)) app[k] = typeof v === 'function' ? v.bind(app) : v
  app.globalData = JSON.parse(JSON.stringify(appDef.globalData))
  return app
}

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('withCode and codeFrom', () => {
  expect(share.withCode('/pages/product/product?id=1', 'AB')).toBe('/pages/product/product?id=1&s=AB')
  expect(share.withCode('/pages/x', 'AB')).toBe('/pages/x?s=AB')
  expect(share.withCode('/pages/x', '')).toBe('/pages/x')
  // App launch options: ?s= in the query; a mini-program code's scene (encoded); the numeric entry scene is no code
  expect(share.codeFrom({ path: 'pages/product/product', query: { id: '1', s: 'AB12' }, scene: 1007 })).toBe('AB12')
  expect(share.codeFrom({ query: { scene: encodeURIComponent('XY9') }, scene: 1047 })).toBe('XY9')
  expect(share.codeFrom({ query: { scene: encodeURIComponent('s=XY9&x=1') }, scene: 1047 })).toBe('XY9')
  expect(share.codeFrom({ query: {}, scene: 1001 })).toBe('')
  expect(share.codeFrom(undefined)).toBe('')
  // page options
  expect(share.codeFrom({ id: '1', s: 'P1' })).toBe('P1')
  expect(share.codeFrom({ scene: 'P2' })).toBe('P2')
})

test('product page shares its path with the create_share code', async () => {
  global.wx = shop()
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_1' })
  await flush(); await flush()
  expect(sent('create_share')).toEqual([{ target: 'product', target_id: 'prd_1' }])
  const msg = page.onShareAppMessage({ from: 'button' })
  expect(msg).toEqual({ title: '好茶', path: '/pages/product/product?id=prd_1&s=C0DEproduct' })
  page.onShareAppMessage({ from: 'menu' })
  expect(sent('create_share').length).toBe(1)
})

test('product page: a code not ready yet comes as a promise; a failing create_share still shares the plain path', async () => {
  global.wx = shop()
  const page = createPage('pages/product/product')
  page.setData({ id: 'prd_1', product: { title: '好茶' } })
  const msg = page.onShareAppMessage({ from: 'menu' })
  expect(msg.path).toBe('/pages/product/product?id=prd_1')
  await expect(msg.promise).resolves.toEqual({ title: '好茶', path: '/pages/product/product?id=prd_1&s=C0DEproduct' })

  global.wx = shop({ shareFails: true })
  const broken = createPage('pages/product/product')
  await broken.onLoad({ id: 'prd_1' })
  const m = broken.onShareAppMessage({ from: 'menu' })
  expect(m.path).toBe('/pages/product/product?id=prd_1')
  await expect(m.promise).resolves.toEqual({ title: '好茶', path: '/pages/product/product?id=prd_1' })
  expect(broken.data.error).toBe('')
})

test('team page shares the team with a team share code; a campaign with a campaign one', async () => {
  global.wx = shop()
  const page = createPage('packages/social/pages/team/team')
  await page.onLoad({ team_id: 'team_1' })
  await flush(); await flush()
  expect(sent('create_share')).toEqual([{ target: 'team', target_id: 'team_1' }])
  const msg = page.onShareAppMessage({ from: 'button' })
  expect(msg.path).toBe('/packages/social/pages/team/team?team_id=team_1&s=C0DEteam')
  expect(msg.title).toMatch(/还差 1 人成团/)

  const camp = createPage('packages/social/pages/team/team')
  await camp.onLoad({ campaign_id: 'gb_1' })
  await flush(); await flush()
  expect(camp.onShareAppMessage({}).path).toBe('/packages/social/pages/team/team?campaign_id=gb_1&s=C0DEcampaign')
})

test('app onLaunch with ?s= logs in, then reports track_share_open once', async () => {
  global.wx = shop()
  const app = createApp()
  const opts = { path: 'pages/product/product', query: { id: 'prd_1', s: 'AB12' }, scene: 1007 }
  const launched = app.onLaunch(opts)
  const shown = app.onShow(opts)
  await launched; await shown
  const actions = wx.named('request').map(action)
  expect(actions.indexOf('login')).toBeLessThan(actions.indexOf('track_share_open'))
  expect(sent('track_share_open')).toEqual([{ scene: 'AB12' }])
  expect(app.globalData.shareOpen.first_touch).toBe(true)
  await app.onShow(opts)
  expect(sent('track_share_open').length).toBe(1)
})

test('app onShow with a mini-program code scene decodes it; no code means no call; failures are quiet', async () => {
  global.wx = shop()
  const app = createApp()
  await app.onShow({ query: { scene: encodeURIComponent('SC%9') }, scene: 1047 })
  expect(sent('track_share_open')).toEqual([{ scene: 'SC%9' }])
  await app.onShow({ query: {}, scene: 1001 })
  expect(sent('track_share_open').length).toBe(1)

  global.wx = shop({ trackFails: true })
  const quiet = createApp()
  await expect(quiet.onLaunch({ query: { s: 'GONE' }, scene: 1007 })).resolves.toBeNull()
  expect(sent('track_share_open').length).toBe(1)
})
