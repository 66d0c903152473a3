/** @jest-environment jsdom */
// Render test: the public trace page's real WXML, verified and broken.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

const trace = (verified) => ({
  batch: { batch_id: 'tb_1', code: 'tabc', batch_no: 'B-1', origin: '云南昆明', produced_at: '2026-11-01T00:00:00Z', product_title: '红富士苹果' },
  events: [{ seq: 1, biz_step: 'commissioning', event_time: '2026-11-02T09:00:00Z', read_point: '果园', hash: 'a'.repeat(64), anchor: null },
           { seq: 2, biz_step: 'shipping', event_time: '2026-11-03T09:00:00Z', read_point: '昆明仓', hash: 'b'.repeat(64),
             anchor: { day: '2026-11-03', chain: { tx_id: 'tx1' } } }],
  public_key: 'cHVibGljLWtleQ==', verified, first_bad_seq: verified ? null : 2
})

test('the trace page shows the batch, each step, the anchors and whether the chain holds', async () => {
  config.mode = 'gateway'
  installApp()
  const answers = [trace(true), trace(false)]
  global.wx = createWx({ request: () => ({ statusCode: 200, data: { ok: true, data: answers.shift() } }) })
  const comp = renderPage('packages/trace/pages/trace/trace')

  await comp.instance.onLoad({ code: 'tabc' })
  await simulate.sleep(0)
  const text = comp.dom.textContent
  expect(text).toContain('红富士苹果')
  expect(text).toContain('批次 B-1 · 产地 云南昆明')
  expect(texts(comp, '.main--verified')[0]).toBe('✓ 记录完整，签名校验通过')
  const events = texts(comp, '.main--event')
  expect(events[0]).toContain('1. 生产')
  expect(events[1]).toContain('2. 发货')
  expect(events[1]).toContain('已上链')

  await comp.instance.load()
  await simulate.sleep(0)
  expect(texts(comp, '.main--broken')[0]).toBe('✗ 第 2 条记录校验未通过')
})
