/** @jest-environment node */
// End to end, two shoppers through one group-buy team against the real dev gateway: A opens a
// team from the product page (seeded campaign), pays in the sandbox and shares the team; B opens
// the shared link (track_share_open), joins from the team page and pays; the team succeeds.
const path = require('path')
const { createWx } = require('./helpers/wx')
const { createPage, installApp, ROOT } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')

const gateway = useGateway()

const ADDRESS = { name: '张三', phone: '13800000000', province: '上海市', city: '上海市', district: '浦东新区', detail: '世纪大道1号', is_default: true }
const flush = () => new Promise((r) => setTimeout(r, 0))
const query = (url) => Object.fromEntries(new URLSearchParams(url.split('?')[1]))

let appDef
function createApp() {
  if (!appDef) { global.App = (d) => { appDef = d }; require(path.join(ROOT, 'app.js')) }
  const app = {}
  for (const [k, v] of Object.entries(appDef)) app[k] = typeof v === 'function' ? v.bind(app) : v
  app.globalData = JSON.parse(JSON.stringify(appDef.globalData))
  return app
}

test('two shoppers fill a group-buy team and it succeeds', async () => {
  // ---- shopper A: its own wx storage, so its own dev login
  const wxA = createWx({ request: realRequest })
  global.wx = wxA
  installApp()
  await createApp().onLaunch({ path: 'pages/index/index', query: {}, scene: 1001 })
  await api.ensureLogin()
  const tokenA = wxA.getStorageSync(api.TOKEN_KEY)
  expect(tokenA).toBeTruthy()
  await api.call('add_address', ADDRESS)

  // the seeded campaign shows on its product page; its entry leads to the team page
  const campaigns = await api.call('list_group_buys', {})
  expect(campaigns.items.length).toBeGreaterThan(0)
  const campaign = campaigns.items[0]
  const product = createPage('pages/product/product')
  await product.onLoad({ id: campaign.product.id })
  await flush()
  expect(product.data.groupBuy && product.data.groupBuy.id).toBe(campaign.id)
  product.goGroupBuy()
  const teamUrl = wxA.named('navigateTo').pop().url
  expect(teamUrl).toBe('/packages/social/pages/team/team?campaign_id=' + campaign.id)

  // 去开团 -> start_group_buy -> the order detail to pay
  const start = createPage('packages/social/pages/team/team')
  await start.onLoad(query(teamUrl))
  expect(start.data.error).toBe('')
  const started = await start.start()
  expect(started && started.order && started.team).toBeTruthy()
  const startCall = wxA.named('request').find((r) => r.url.endsWith('/api/start_group_buy')).data
  expect(startCall).toMatchObject({ campaign_id: campaign.id, sku_id: campaign.sku_prices[0].sku_id })
  expect(startCall.request_id).toBeTruthy()
  expect(startCall.address_id).toBeTruthy()
  const teamId = started.team.id
  const detailA = createPage('packages/order/pages/detail/detail')
  await detailA.onLoad(query(wxA.named('navigateTo').pop().url))
  expect(detailA.data.order.id).toBe(started.order.id)
  expect(detailA.data.order.status).toBe('pending_payment')
  await wx.tap(detailA.sandboxPay)
  expect(detailA.data.order.status).not.toBe('pending_payment')

  // the team is forming with one seat left; A shares it with a real share code
  const teamA = createPage('packages/social/pages/team/team')
  await teamA.onLoad({ team_id: teamId })
  expect(teamA.data.team.status).toBe('forming')
  expect(teamA.data.team.members.length).toBe(1)
  expect(teamA.data.team.seats_left).toBe(1)
  await teamA.prepareShare()
  const shared = teamA.onShareAppMessage({ from: 'button' })
  expect(shared.path).toMatch(new RegExp('^/packages/social/pages/team/team\\?team_id=' + teamId + '&s=[^&]+$'))
  const opened = query(shared.path)

  // ---- shopper B: a second storage, opening A's link
  const wxB = createWx({ request: realRequest })
  global.wx = wxB
  installApp()
  const appB = createApp()
  const track = await appB.onLaunch({ path: 'packages/social/pages/team/team', query: opened, scene: 1007 })
  expect(wxB.getStorageSync(api.TOKEN_KEY)).toBeTruthy()
  expect(wxB.getStorageSync(api.TOKEN_KEY)).not.toBe(tokenA)
  expect(track).toMatchObject({ target: 'team', target_id: teamId, is_own: false })
  await api.call('add_address', ADDRESS)

  const teamB = createPage('packages/social/pages/team/team')
  await teamB.onLoad(opened)
  expect(teamB.data.team.seats_left).toBe(1)
  const joined = await teamB.join()
  expect(joined && joined.order).toBeTruthy()
  const joinCall = wxB.named('request').find((r) => r.url.endsWith('/api/join_group_buy')).data
  expect(joinCall).toMatchObject({ team_id: teamId })
  expect(joinCall.request_id && joinCall.address_id).toBeTruthy()
  const detailB = createPage('packages/order/pages/detail/detail')
  await detailB.onLoad(query(wxB.named('navigateTo').pop().url))
  expect(detailB.data.order.id).toBe(joined.order.id)
  await wx.tap(detailB.sandboxPay)
  expect(detailB.data.order.status).not.toBe('pending_payment')

  // get_team: succeeded with two members, seen by both
  const team = await api.call('get_team', { team_id: teamId })
  expect(team.status).toBe('succeeded')
  expect(team.members.length).toBe(2)
  global.wx = wxA
  const again = createPage('packages/social/pages/team/team')
  await again.onLoad({ team_id: teamId })
  expect(again.data.team.status).toBe('succeeded')
  expect(again.data.team.members.map((m) => m.is_leader)).toEqual([true, false])
}, 90000)
