/** @jest-environment node */
// Campaign entries (issue 21): the product page finds its running bargain through
// list_bargains (no config needed); home leads to the campaigns page.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

beforeEach(() => { config.mode = 'gateway'; config.dev = true; config.bargainCampaigns = {}; installApp() })

function shop(handlers) {
  return createWx({ request: (o) => {
    const h = handlers[action(o)]
    return h ? h(o.data) : { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  } })
}

test('the product page finds its bargain with list_bargains and opens it', async () => {
  global.wx = shop({
    get_product: () => ok({ id: 'prd_1', title: '好茶', skus: [{ id: 'sku_1', price: 5000 }] }),
    list_group_buys: () => ok({ items: [] }),
    list_bargains: (d) => ok({ items: d.product_id === 'prd_1' ? [{ id: 'bgc_9', product_id: 'prd_1', floor_price: 100 }] : [] })
  })
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_1' })
  const asked = wx.named('request').filter((r) => action(r) === 'list_bargains').map((r) => r.data)
  expect(asked).toEqual([{ product_id: 'prd_1', page_size: 1 }])
  expect(page.data.bargainCampaignId).toBe('bgc_9')
  expect(page.data.bargainFloor).toBe(100)
  page.goBargain()
  expect(wx.named('navigateTo').pop().url).toBe('/packages/social/pages/bargain/bargain?campaign_id=bgc_9')
})

test('without a running bargain (or when the list fails) the product page has no entry', async () => {
  global.wx = shop({
    get_product: () => ok({ id: 'prd_2', title: '好茶', skus: [] }),
    list_group_buys: () => ok({ items: [] }),
    list_bargains: () => ({ statusCode: 500, data: { ok: false, error: { code: 'INTERNAL' } } })
  })
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_2' })
  expect(page.data.error).toBe('')
  expect(page.data.bargainCampaignId).toBe('')
})

test('home has an entry to the campaigns page', () => {
  global.wx = shop({})
  const page = createPage('pages/index/index')
  page.goCampaigns()
  expect(wx.named('navigateTo')[0].url).toBe('/packages/social/pages/campaigns/campaigns')
})

test('the campaigns page lists bargains, then assists on its tab, and opens each', async () => {
  global.wx = shop({
    list_bargains: (d) => ok({ items: [{ id: 'bgc_1', title: '好茶', image: 'https://img.test/t.png', price: 5000, floor_price: 100, helpers_needed: 5, ends_at: '2026-06-01T04:00:00Z' }], page: d.page, pages: 1 }),
    list_assists: (d) => ok({ items: [{ id: 'asc_1', title: '助力券', reward: { kind: 'coupon' }, assists_needed: 3, ends_at: '2026-06-01T04:00:00Z' }], page: d.page, pages: 1 })
  })
  const page = createPage('packages/social/pages/campaigns/campaigns')
  await page.onLoad({})
  expect(page.data.items.map((c) => c.id)).toEqual(['bgc_1'])
  expect(page.data.items[0].endsText).toBe('2026-06-01 12:00')
  page.open({ currentTarget: { dataset: { id: 'bgc_1' } } })
  expect(wx.named('navigateTo').pop().url).toBe('/packages/social/pages/bargain/bargain?campaign_id=bgc_1')

  await page.onTab({ currentTarget: { dataset: { key: 'assist' } } })
  expect(page.data.items.map((c) => c.id)).toEqual(['asc_1'])
  page.open({ currentTarget: { dataset: { id: 'asc_1' } } })
  expect(wx.named('navigateTo').pop().url).toBe('/packages/social/pages/assist/assist?campaign_id=asc_1')
  expect(page.onShareAppMessage().path).toBe('/packages/social/pages/campaigns/campaigns?tab=assist')
})
