/** @jest-environment node */
// Issue 20 in the mini-program: the public trace page (by code or scanned scene), the order
// line's trace link, AR try-on reached from the product page, in the asset's mode, with the
// fallback image where the phone cannot track.
const fs = require('fs')
const path = require('path')
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const { sceneOf, isSupported, skuWithAr } = require('../packages/ar/utils')
const { codeOf, eventRows } = require('../packages/trace/utils')

const ROOT = path.join(__dirname, '..')
const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

const AR = { mode: 'face', glb_url: 'https://cdn.example.com/ar/glasses.glb', sha256: 'ab', bytes: 2048,
             scale: [1.2, 1.2, 1.2], position: [0, 0.05, 0], rotation: [0, 180, 0], anchor: 'nose',
             marker_url: null, fallback_image: 'https://cdn.example.com/glasses.png' }
const PRODUCT = { id: 'prd_1', title: '墨镜', images: ['https://img/1.png'], purchase_limit: null,
                  skus: [{ id: 'sku_plain', specs: { 颜色: '黑' }, price: 100, stock: 3 },
                         { id: 'sku_ar', specs: { 颜色: '茶' }, price: 100, stock: 3, ar: AR }] }
const TRACE = {
  batch: { batch_id: 'tb_1', code: 'tabc', batch_no: 'B-1', origin: '云南', produced_at: '2026-11-01T00:00:00Z', product_title: '苹果' },
  events: [{ seq: 1, biz_step: 'commissioning', event_time: '2026-11-02T09:00:00Z', read_point: '果园', hash: 'a'.repeat(64), anchor: null },
           { seq: 2, biz_step: 'shipping', event_time: '2026-11-03T09:00:00Z', read_point: '仓库', hash: 'b'.repeat(64),
             anchor: { day: '2026-11-03', chain: { tx_id: 'tx1' } } }],
  public_key: 'cHVibGlj', verified: true, first_bad_seq: null
}

function shop(answers) {
  return createWx({ request: (o) => answers[action(o)] ? ok(answers[action(o)]) : { statusCode: 404, data: { ok: false, error: { code: 'NOT_FOUND' } } } })
}

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('app.json declares the ar and trace subpackages, and their pages exist', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  const roots = Object.fromEntries(app.subPackages.map((p) => [p.root, p.pages]))
  expect(roots['packages/ar']).toEqual(['pages/tryon/tryon'])
  expect(roots['packages/trace']).toEqual(['pages/trace/trace'])
  for (const page of ['packages/ar/pages/tryon/tryon', 'packages/trace/pages/trace/trace']) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) expect(fs.existsSync(path.join(ROOT, page + '.' + ext))).toBe(true)
  }
})

test('the xr-frame component is an xr-scene with an ar-system, the model from its URL on a tracker', () => {
  const dir = path.join(ROOT, 'packages/ar/components/xr-tryon')
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'xr-tryon.json'), 'utf8'))
  expect(json).toMatchObject({ component: true, renderer: 'webview', componentFramework: 'glass-easel' })
  const wxml = fs.readFileSync(path.join(dir, 'xr-tryon.wxml'), 'utf8')
  expect(wxml).toMatch(/<xr-scene ar-system="modes:\{\{arModes\}\};camera:\{\{camera\}\}"/)
  expect(wxml).toContain('<xr-asset-load type="gltf" asset-id="tryon-model" src="{{glbUrl}}" />')
  expect(wxml).toContain('<xr-ar-tracker')
  expect(wxml).toContain('<xr-gltf model="tryon-model"')
  expect(wxml).toContain('is-ar-camera')
  const page = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/ar/pages/tryon/tryon.json'), 'utf8'))
  expect(page.usingComponents['xr-tryon']).toBe('../../components/xr-tryon/xr-tryon')
})

test('a SKU\'s ar becomes the scene: modes capitalised, front camera for faces, vectors as text', () => {
  expect(sceneOf(AR)).toEqual({ glbUrl: AR.glb_url, arModes: 'Face', trackerMode: 'Face', camera: 'Front',
                                autoSync: '43', markerUrl: '', position: '0 0.05 0', rotation: '0 180 0', scale: '1.2 1.2 1.2' })
  const plane = sceneOf({ mode: 'plane', glb_url: 'u', scale: 2 })
  expect([plane.arModes, plane.camera, plane.autoSync, plane.scale]).toEqual(['Plane', 'Back', '', '2 2 2'])
  expect(sceneOf({ mode: 'marker', glb_url: 'u', marker_url: 'm.png' }).markerUrl).toBe('m.png')
  expect(sceneOf({ mode: 'hand', glb_url: 'u', anchor: '13' }).autoSync).toBe('13')
})

test('support: plane and marker need VisionKit v2, face v1; no VisionKit, no AR', () => {
  const asked = []
  const wxApi = { isVKSupport: (v) => { asked.push(v); return v === 'v1' } }
  expect(isSupported(wxApi, 'face')).toBe(true)
  expect(isSupported(wxApi, 'plane')).toBe(false)
  expect(asked).toEqual(['v1', 'v2'])
  expect(isSupported({}, 'face')).toBe(false)
  expect(skuWithAr(PRODUCT, 'sku_plain').id).toBe('sku_ar')
})

test('the product page offers AR试穿 for a SKU with a model and opens the ar subpackage', async () => {
  global.wx = shop({ get_product: PRODUCT, list_group_buys: { items: [] }, create_share: { code: 's' } })
  const page = createPage('pages/product/product')
  await page.onLoad({ id: 'prd_1' })
  expect(page.data.arSkuId).toBe('sku_ar')
  page.goTryOn()
  expect(wx.named('navigateTo').pop().url).toBe('/packages/ar/pages/tryon/tryon?product_id=prd_1&sku_id=sku_ar')
  const wxml = fs.readFileSync(path.join(ROOT, 'pages/product/product.wxml'), 'utf8')
  expect(wxml).toContain('bindtap="goTryOn"')
})

test('the try-on page renders the model where AR is supported, else the fallback image', async () => {
  global.wx = Object.assign(shop({ get_product: PRODUCT }), { isVKSupport: () => true })
  const page = createPage('packages/ar/pages/tryon/tryon')
  await page.onLoad({ product_id: 'prd_1', sku_id: 'sku_ar' })
  expect(page.data.supported).toBe(true)
  expect(page.data.scene.glbUrl).toBe(AR.glb_url)

  global.wx = shop({ get_product: PRODUCT })   // an old phone: no VisionKit
  const old = createPage('packages/ar/pages/tryon/tryon')
  await old.onLoad({ product_id: 'prd_1' })
  expect(old.data.supported).toBe(false)
  expect(old.data.fallback).toBe(AR.fallback_image)
  page.onFailed()                               // the scene failed to load: fallback too
  expect(page.data.failed).toBe(true)
  const wxml = fs.readFileSync(path.join(ROOT, 'packages/ar/pages/tryon/tryon.wxml'), 'utf8')
  expect(wxml).toContain('<xr-tryon wx:if="{{supported && !failed}}"')
  expect(wxml).toContain('class="fallback__img" src="{{fallback}}"')
})

test('a try-on in the camera is tracked once as try_on with the product and SKU', async () => {
  global.wx = Object.assign(shop({ get_product: PRODUCT, track_events: { accepted: 1 } }), { isVKSupport: () => true })
  const page = createPage('packages/ar/pages/tryon/tryon')
  await page.onLoad({ product_id: 'prd_1', sku_id: 'sku_ar' })
  await page.onArReady()
  await page.onArReady()
  const sent = wx.named('request').filter((o) => action(o) === 'track_events')
  expect(sent).toHaveLength(1)
  expect(sent[0].data.events[0]).toMatchObject({ name: 'try_on', props: { product_id: 'prd_1', sku_id: 'sku_ar', mode: 'face' } })
  expect(sent[0].data.device_id).toBeTruthy()
})

test('the trace page reads its code from the link or the scanned scene, and shows the check', async () => {
  expect(codeOf({ code: 'tabc' })).toBe('tabc')
  expect(codeOf({ scene: encodeURIComponent('tabc') })).toBe('tabc')
  expect(eventRows(TRACE.events).map((r) => [r.step, r.onChain])).toEqual([['生产', false], ['发货', true]])
  global.wx = shop({ get_trace: TRACE })
  const page = createPage('packages/trace/pages/trace/trace')
  await page.onLoad({ scene: 'tabc' })
  expect(JSON.parse(wx.named('request')[0].data ? JSON.stringify(wx.named('request')[0].data) : '{}')).toEqual({ code: 'tabc' })
  expect(page.data.verified).toBe(true)
  expect(page.data.rows).toHaveLength(2)
})

test('the order detail links a shipped line to its trace', async () => {
  const order = { id: 'ord_1', status: 'shipped', items: [{ sku_id: 'sku_a', title: '苹果', quantity: 1, subtotal: 100,
                  trace: { batch_id: 'tb_1', code: 'tabc', batch_no: 'B-1' } }] }
  global.wx = shop({ get_order: order })
  const page = createPage('packages/order/pages/detail/detail')
  await page.onLoad({ id: 'ord_1' })
  page.openTrace({ currentTarget: { dataset: { code: 'tabc' } } })
  expect(wx.named('navigateTo').pop().url).toBe('/packages/trace/pages/trace/trace?code=tabc')
  const wxml = fs.readFileSync(path.join(ROOT, 'packages/order/pages/detail/detail.wxml'), 'utf8')
  expect(wxml).toContain('wx:if="{{item.trace}}"')
  expect(wxml).toContain('bindtap="openTrace"')
})
