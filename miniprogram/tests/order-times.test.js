/** @jest-environment node */
// Order times read in Beijing time whatever the phone's timezone (the phone here is in Los
// Angeles: Node reads TZ when a date is first made); the tracking number copied.
process.env.TZ = 'America/Los_Angeles'
const { beijingTime, parseUtc } = require('../utils/time')
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')

test('UTC ISO strings read as Beijing time (UTC+8), microseconds and day changes too', () => {
  expect(new Date(2026, 0, 1).getTimezoneOffset()).not.toBe(-480)   // the phone is not in Beijing
  expect(beijingTime('2026-01-01T04:30:00Z')).toBe('2026-01-01 12:30')
  expect(beijingTime('2026-01-01T16:05:59.123456Z')).toBe('2026-01-02 00:05')
  expect(beijingTime('2026-12-31T23:59:00+00:00')).toBe('2027-01-01 07:59')
  expect(beijingTime('2026-03-01T01:00:00')).toBe('2026-03-01 09:00')   // no zone: UTC
  expect(beijingTime('')).toBe('')
  expect(beijingTime(null)).toBe('')
  expect(beijingTime('nonsense')).toBe('')
  expect(parseUtc('2026-01-01T00:00:00.999999Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 999))
})

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const ORDER = { id: 'ord_1', status: 'shipped', items: [], goods_total: 100, total: 100,
  created_at: '2026-05-01T02:00:00.000001Z', paid_at: '2026-05-01T02:01:00Z', shipped_at: '2026-05-02T10:00:00Z',
  pay_deadline: '2026-05-01T02:30:00Z', shipment: { carrier: '顺丰速运', tracking_no: 'SF1234567890' } }

test('order detail shows its times in Beijing time and copies the tracking number', async () => {
  config.mode = 'gateway'; config.dev = true; installApp()
  global.wx = createWx({ request: (o) => ok(ORDER) })
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  expect(page.data.times.map((t) => t.label + ' ' + t.text)).toEqual([
    '下单时间 2026-05-01 10:00', '付款时间 2026-05-01 10:01', '发货时间 2026-05-02 18:00'])
  page.copyTracking()
  expect(wx.named('setClipboardData')[0].data).toBe('SF1234567890')
})

test('the order list shows when each order was placed in Beijing time and has a 已取消 tab', async () => {
  config.mode = 'gateway'; config.dev = true; installApp()
  global.wx = createWx({ request: (o) => ok({ items: [Object.assign({}, ORDER, { status: 'pending_payment' })], total: 1, page: 1, page_size: 10, pages: 1 }) })
  const page = createPage('packages/order/pages/list/list')
  page.onLoad({})
  await page.onShow()
  expect(page.data.items[0].createdText).toBe('2026-05-01 10:00')
  expect(page.data.tabs.map((t) => t.key)).toContain('cancelled')
})
