/** @jest-environment node */
// Live and community pages with the wx double and a fake shop: the live list (status tabs,
// subscribe with a grant), a room's way in (plugin or channels), a product opened from a room
// making the order carry its source, a community joined and a group open decrypted by the
// server, the leader's dashboard in yuan.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const { rememberLiveSource, liveSource, pluginUrl } = require('../utils/live')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (code, status, zh) => ({ statusCode: status || 400, data: { ok: false, error: Object.assign({ code }, zh ? { message_zh: zh } : {}) } })
const action = (o) => o.url.split('/api/')[1]
const future = new Date(Date.now() + 3600e3).toISOString()

function room(over) {
  return Object.assign({ id: 'room_1', source: 'channels', external_id: 'sphABC', title: '周末直播', anchor_name: '王五', cover: '', status: 'upcoming', starts_at: future, ends_at: future, products: [{ id: 'prd_1', title: '茶', image: '', price: 1000 }], replay_url: null }, over)
}

function shop(handlers, extra) {
  return createWx(Object.assign({
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'record_subscription') return ok({ accepted: r.data.template_ids, remaining: {} })
      if (handlers[a]) return handlers[a](r.data)
      return fail('UNKNOWN_ACTION', 404)
    }
  }, extra))
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('the live list loads by status and subscribes after asking for the live template', async () => {
  global.wx = shop({
    list_live_rooms: (d) => ok({ items: d.status === 'upcoming' ? [room()] : [], total: 1 }),
    subscribe_live_room: (d) => ok({ room_id: d.room_id, subscribed: true, has_grant: true })
  }, { subscribe: { TPL_LIVE_START_PLACEHOLDER: 'accept' } })
  const page = createPage('packages/live/pages/list/list')
  await page.onLoad({ status: 'upcoming' })
  expect(page.data.rooms.map((r) => r.statusText)).toEqual(['预告'])
  await wx.tap(page.subscribe, { currentTarget: { dataset: { id: 'room_1' } } })
  expect(wx.named('requestSubscribeMessage')[0].tmplIds).toEqual(config.subscribeTemplates.live)
  expect(sent('subscribe_live_room')).toEqual([{ room_id: 'room_1' }])
})

test('a plugin room opens the live-player plugin with our room id in custom_params', async () => {
  global.wx = shop({ get_live_room: () => ok(room({ source: 'plugin', external_id: '11', status: 'live' })) })
  const page = createPage('packages/live/pages/room/room')
  await page.onLoad({ id: 'room_1' })
  expect(await page.enter()).toBe('plugin')
  const url = wx.named('navigateTo')[0].url
  expect(url).toBe(pluginUrl({ id: 'room_1', external_id: '11' }))
  expect(url.startsWith('plugin-private://wx2b03c6e691cd7370/pages/live-player-plugin?room_id=11')).toBe(true)
})

test('a channels room asks getChannelsLiveInfo then opens the live', async () => {
  global.wx = shop({ get_live_room: () => ok(room({ status: 'live' })) })
  wx.getChannelsLiveInfo = (o) => o.success({ feedId: 'feed1', nonceId: 'n1', status: 2 })
  wx.openChannelsLive = (o) => wx.calls.push({ name: 'openChannelsLive', arg: o })
  const page = createPage('packages/live/pages/room/room')
  await page.onLoad({ id: 'room_1' })
  expect(await page.enter()).toBe('channels')
  expect(wx.named('openChannelsLive')[0]).toEqual({ finderUserName: 'sphABC', feedId: 'feed1', nonceId: 'n1' })
})

test('a goods page opened by the plugin remembers the room for a day, and checkout sends it', () => {
  global.wx = shop({})
  const now = Date.now()
  rememberLiveSource({ id: 'prd_1', share_openid: 'oS', custom_params: encodeURIComponent(JSON.stringify({ room_id: 'room_1' })) }, now)
  expect(liveSource(now + 1000)).toEqual({ type: 'live', room_id: 'room_1', share_openid: 'oS' })
  expect(liveSource(now + 25 * 3600e3)).toBeNull()
  expect(rememberLiveSource({ id: 'prd_2' })).toBeNull()
})

test('checkout puts the remembered live source into place_order', async () => {
  let placed = null
  global.wx = shop({
    place_order: (d) => { placed = d; return ok({ id: 'ord_1' }) }
  })
  rememberLiveSource({ live_room_id: 'room_7' })
  const page = createPage('packages/order/pages/checkout/checkout')
  page.setData({ mode: 'buy', skuId: 'sku_1', quantity: 1, requestId: 'co-x-12345678', address: { id: 'adr_1' }, lines: [{ sku_id: 'sku_1' }], delivery: 'express' })
  await page.submit()
  expect(placed.source).toEqual({ type: 'live', room_id: 'room_7' })
})

test('a community page joins, and a group open is sent encrypted for the server to decrypt', async () => {
  global.wx = shop({
    get_community: () => ok({ id: 'com_1', name: '阳光小区', members: 3, is_member: false, is_leader: false }),
    join_community: () => ok({ community_id: 'com_1' }),
    track_group_share: (d) => ok({ community_id: d.community_id, open_gid: 'G1' })
  })
  wx.getEnterOptionsSync = () => ({ shareTicket: 'ticket1' })
  wx.getShareInfo = (o) => o.success({ encryptedData: 'ENC', iv: 'IV' })
  const page = createPage('packages/live/pages/community/community')
  await page.onLoad({ id: 'com_1' })
  expect(sent('track_group_share')).toEqual([{ community_id: 'com_1', encrypted_data: 'ENC', iv: 'IV' }])
  await page.join()
  expect(sent('join_community')).toEqual([{ community_id: 'com_1' }])
})

test('the leader dashboard shows commission in yuan; a non-leader sees why not', async () => {
  global.wx = shop({ get_leader_dashboard: () => ok({ members: 2, orders: 1, commission: { pending: 150, available: 0, paid: 1000, reversed: 0 }, this_month: { orders: 1, commission: { pending: 150, available: 0, paid: 0 } }, groups: [] }) })
  const page = createPage('packages/live/pages/leader/leader')
  await page.onLoad()
  expect(page.data.text).toEqual({ pending: '¥1.50', available: '¥0.00', paid: '¥10.00', month: '¥1.50' })
  global.wx = shop({ get_leader_dashboard: () => fail('FORBIDDEN', 403, '你还不是团长') })
  const other = createPage('packages/live/pages/leader/leader')
  await other.onLoad()
  expect(other.data.error).toBe('你还不是团长')
})
