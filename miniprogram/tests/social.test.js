/** @jest-environment node */
// Bargain, assist and the team poster with the wx double and a fake shop.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const fail = (code, status, zh) => ({ statusCode: status || 400, data: { ok: false, error: Object.assign({ code }, zh ? { message_zh: zh } : {}) } })
const action = (o) => o.url.split('/api/')[1]
const flush = () => new Promise((r) => setTimeout(r, 0))
const future = new Date(Date.now() + 3600e3).toISOString()

function bargain(over) {
  return Object.assign({ id: 'brg_1', campaign_id: 'bgc_1', title: '好茶', image: '', status: 'active', start_price: 16800, floor_price: 9900, current_price: 16800, helpers_needed: 5, help_count: 0, helps: [], expires_at: future, is_mine: true, helped_by_me: false }, over)
}
function assist(over) {
  return Object.assign({ id: 'ast_1', campaign_id: 'asc_1', status: 'active', assists_needed: 3, help_count: 0, helps: [], reward: { kind: 'coupon', coupon_id: 'c', title: '新人券' }, new_users_only: false, expires_at: future, reward_granted: false, reward_status: null, is_mine: true, helped_by_me: false }, over)
}

function shop(handlers, extra) {
  return createWx(Object.assign({
    request: (r) => {
      const a = action(r)
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'create_share') return ok({ share_id: 'shr_' + r.data.target, code: 'C0DE' + r.data.target, path: 'x' })
      if (a === 'list_addresses') return ok({ items: [{ id: 'adr_1', is_default: true }] })
      if (handlers[a]) return handlers[a](r.data)
      return fail('UNKNOWN_ACTION', 404)
    }
  }, extra))
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)
const lastToast = () => wx.named('showToast').pop()

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('bargain: ?campaign_id= starts one; the owner buys and goes to the order; shares with ?s=', async () => {
  global.wx = shop({
    start_bargain: () => ok(bargain({ current_price: 13350, help_count: 2, helps: [{ nickname: 'b', avatar: '', cut: 2000 }, { nickname: 'c', avatar: '', cut: 1450 }] })),
    buy_bargain: () => ok({ id: 'ord_9', status: 'pending_payment' })
  })
  const page = createPage('packages/social/pages/bargain/bargain')
  await page.onLoad({ campaign_id: 'bgc_1' })
  expect(sent('start_bargain')).toEqual([{ campaign_id: 'bgc_1' }])
  expect(page.data.id).toBe('brg_1')
  expect(page.data.progress).toBe(50)
  expect(page.data.cutText).toBe('¥34.50')
  expect(page.data.bargain.helps.length).toBe(2)
  await flush(); await flush()
  expect(sent('create_share')).toEqual([{ target: 'bargain', target_id: 'brg_1' }])
  expect(page.onShareAppMessage({ from: 'button' }).path).toBe('/packages/social/pages/bargain/bargain?id=brg_1&s=C0DEbargain')

  expect(await page.help()).toBeNull()   // no helping one's own
  const order = await page.buy()
  expect(order.id).toBe('ord_9')
  const buy = sent('buy_bargain')[0]
  expect(buy).toMatchObject({ bargain_id: 'brg_1', address_id: 'adr_1' })
  expect(buy.request_id).toBeTruthy()
  expect(wx.named('navigateTo').pop().url).toBe('/packages/order/pages/detail/detail?id=ord_9')
})

test('bargain: a friend helps once; errors are a Chinese toast; a missing id is an error state', async () => {
  global.wx = shop({
    get_bargain: () => ok(bargain({ is_mine: false })),
    help_bargain: () => ok(Object.assign(bargain({ is_mine: false, helped_by_me: true, current_price: 15000, help_count: 1, helps: [{ nickname: '我', avatar: '', cut: 1800 }] }), { cut: 1800 }))
  })
  const page = createPage('packages/social/pages/bargain/bargain')
  await page.onLoad({ id: 'brg_1' })
  expect(sent('get_bargain')).toEqual([{ bargain_id: 'brg_1' }])
  expect(await page.buy()).toBeNull()    // only the owner buys
  const res = await page.help()
  expect(sent('help_bargain')).toEqual([{ bargain_id: 'brg_1' }])
  expect(res.cut).toBe(1800)
  expect(page.data.bargain.current_price).toBe(15000)
  expect(lastToast().title).toBe('帮TA砍掉 ¥18.00')
  expect(await page.help()).toBeNull()   // helped already
  expect(sent('help_bargain').length).toBe(1)

  global.wx = shop({ get_bargain: () => ok(bargain({ is_mine: false })), help_bargain: () => fail('RATE_LIMITED', 429) })
  const limited = createPage('packages/social/pages/bargain/bargain')
  await limited.onLoad({ id: 'brg_1' })
  expect(await limited.help()).toBeNull()
  expect(lastToast().title).toBe('操作太频繁，请稍后再试')
  expect(limited.data.helping).toBe(false)

  const none = createPage('packages/social/pages/bargain/bargain')
  await none.onLoad({})
  expect(none.data.error).toBeTruthy()
})

test('assist: start, a friend helps, reward status, share', async () => {
  global.wx = shop({ start_assist: () => ok(assist({ help_count: 1 })) })
  const page = createPage('packages/social/pages/assist/assist')
  await page.onLoad({ campaign_id: 'asc_1' })
  expect(sent('start_assist')).toEqual([{ campaign_id: 'asc_1' }])
  expect(page.data.progress).toBe(33)
  expect(page.data.rewardText).toBe('还差 2 位好友助力')
  await flush(); await flush()
  expect(page.onShareAppMessage({}).path).toBe('/packages/social/pages/assist/assist?id=ast_1&s=C0DEassist')

  global.wx = shop({
    get_assist: () => ok(assist({ is_mine: false, help_count: 2 })),
    help_assist: () => ok(assist({ is_mine: false, helped_by_me: true, help_count: 3, status: 'completed', reward_granted: true, reward_status: 'granted' }))
  })
  const friend = createPage('packages/social/pages/assist/assist')
  await friend.onLoad({ id: 'ast_1' })
  await friend.help()
  expect(sent('help_assist')).toEqual([{ assist_id: 'ast_1' }])
  expect(friend.data.progress).toBe(100)
  expect(friend.data.rewardText).toBe('奖励已发放')
  expect(await friend.help()).toBeNull()
})

// a canvas node double: a 2d context recording its calls, images that load at once
function canvasWx(handlers, o) {
  const opts = o || {}
  const drawn = []
  const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : (...args) => drawn.push([k].concat(args))), set: (t, k, v) => { t[k] = v; drawn.push(['set ' + String(k), v]); return true } })
  const node = {
    getContext: (kind) => { drawn.push(['getContext', kind]); return ctx },
    createImage: () => {
      const img = {}
      Object.defineProperty(img, 'src', { set(v) { img._src = v; setTimeout(() => (opts.imageFails ? img.onerror() : img.onload()), 0) }, get() { return img._src } })
      return img
    }
  }
  const w = shop(handlers)
  w.createSelectorQuery = () => ({ select: (sel) => ({ fields: (f) => ({ exec: (cb) => { w.calls.push({ name: 'select', arg: { sel, f } }); cb([opts.noNode ? null : { node, width: 300, height: 420 }]) } }) }) })
  w.canvasToTempFilePath = (a) => { w.calls.push({ name: 'canvasToTempFilePath', arg: a }); a.success({ tempFilePath: 'wxfile://poster.png' }) }
  w.saveImageToPhotosAlbum = (a) => { w.calls.push({ name: 'saveImageToPhotosAlbum', arg: a }); opts.saveFails ? a.fail({ errMsg: 'saveImageToPhotosAlbum:fail auth deny' }) : a.success({}) }
  return { w, drawn, node }
}

const teamHandlers = {
  get_team: () => ok({ id: 'team_1', campaign_id: 'gb_1', status: 'forming', members: [{ nickname: 'a' }], seats_left: 1, team_size: 2, expires_at: future }),
  get_group_buy: () => ok({ id: 'gb_1', product: { id: 'prd_1', title: '好茶' }, sku_prices: [{ sku_id: 'sku_1', group_price: 3590 }], team_size: 2 }),
  get_share_code: (d) => ok({ url: 'https://cdn.example/' + d.share_id + '.png' })
}

test('team poster draws title, price and the share code, then saves it to the album', async () => {
  const { w, drawn, node } = canvasWx(teamHandlers)
  global.wx = w
  const page = createPage('packages/social/pages/team/team')
  await page.onLoad({ team_id: 'team_1' })
  expect(await page.savePoster()).toBe(true)
  expect(sent('get_share_code')).toEqual([{ share_id: 'shr_team' }])
  expect(wx.named('select')[0]).toEqual({ sel: '#poster', f: { node: true, size: true } })
  expect(drawn).toContainEqual(['getContext', '2d'])
  const texts = drawn.filter((d) => d[0] === 'fillText').map((d) => d[1])
  expect(texts).toContain('好茶')
  expect(texts).toContain('拼团价 ¥35.90')
  const image = drawn.find((d) => d[0] === 'drawImage')
  expect(image[1]._src).toBe('https://cdn.example/shr_team.png')
  expect(wx.named('canvasToTempFilePath')[0].canvas).toBe(node)
  expect(wx.named('saveImageToPhotosAlbum')[0].filePath).toBe('wxfile://poster.png')
  expect(lastToast().title).toBe('海报已保存到相册')
  expect(page.data.posterBusy).toBe(false)
})

test('team poster failures show a Chinese toast', async () => {
  for (const [opts, handlers, toast] of [
    [{ saveFails: true }, teamHandlers, '请允许保存到相册后重试'],
    [{ imageFails: true }, teamHandlers, '生成海报失败，请重试'],
    [{ noNode: true }, teamHandlers, '生成海报失败，请重试'],
    [{}, Object.assign({}, teamHandlers, { get_share_code: () => fail('UPSTREAM_ERROR', 502) }), '生成海报失败，请重试']
  ]) {
    const { w } = canvasWx(handlers, opts)
    global.wx = w
    const page = createPage('packages/social/pages/team/team')
    await page.onLoad({ team_id: 'team_1' })
    expect(await page.savePoster()).toBe(false)
    expect(lastToast()).toEqual({ title: toast, icon: 'none' })
    expect(page.data.posterBusy).toBe(false)
  }
})

test('product page: the bargain entry leads to the bargain page only for a configured campaign', async () => {
  global.wx = shop({ get_product: () => ok({ id: 'prd_017', title: '茶', skus: [] }), list_group_buys: () => ok({ items: [] }) })
  const plain = createPage('pages/product/product')
  await plain.onLoad({ id: 'prd_017' })
  expect(plain.data.bargainCampaignId).toBe('')
  plain.goBargain()
  expect(wx.named('navigateTo').length).toBe(0)

  config.bargainCampaigns = { prd_017: 'bgc_1' }
  try {
    const page = createPage('pages/product/product')
    await page.onLoad({ id: 'prd_017' })
    page.goBargain()
    expect(wx.named('navigateTo').pop().url).toBe('/packages/social/pages/bargain/bargain?campaign_id=bgc_1')
  } finally { config.bargainCampaigns = {} }
})
