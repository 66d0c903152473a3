// AR try-on with XR-FRAME: what the xr-tryon component needs from a SKU's `ar` (get_product),
// and whether this phone can track in that mode. Pure functions, so tests call them directly.

// ar-system's modes and ar-tracker's mode are capitalised in xr-frame
const MODES = { face: 'Face', plane: 'Plane', body: 'Body', hand: 'Hand', marker: 'Marker' }
// named anchors -> xr-frame's feature point index (auto-sync) per mode; a number passes as is
const ANCHORS = {
  face: { nose: 43, forehead: 0, chin: 16, left_eye: 74, right_eye: 77, mouth: 87 },
  body: { neck: 1, chest: 12, left_wrist: 7, right_wrist: 4 },
  hand: { wrist: 0, palm: 9, ring_finger: 13, index_finger: 8 }
}
const DEFAULT_ANCHOR = { face: 43, body: 1, hand: 0 }

function triple(v, dflt) {
  const list = Array.isArray(v) ? v : (typeof v === 'number' ? [v, v, v] : dflt)
  return list.map((n) => String(Number(n) || 0)).join(' ')
}

function autoSync(mode, anchor) {
  if (!(mode in DEFAULT_ANCHOR)) return ''
  if (anchor != null && /^\d+$/.test(String(anchor))) return String(anchor)
  const named = (ANCHORS[mode] || {})[anchor]
  return String(named != null ? named : DEFAULT_ANCHOR[mode])
}

// the xr-tryon component's properties for one SKU's ar
function sceneOf(ar) {
  const mode = ar.mode
  return {
    glbUrl: ar.glb_url,
    arModes: MODES[mode],
    trackerMode: MODES[mode],
    camera: mode === 'face' ? 'Front' : 'Back',
    autoSync: autoSync(mode, ar.anchor),
    markerUrl: mode === 'marker' ? (ar.marker_url || '') : '',
    position: triple(ar.position, [0, 0, 0]),
    rotation: triple(ar.rotation, [0, 0, 0]),
    scale: triple(ar.scale, [1, 1, 1])
  }
}

// plane and marker tracking need VisionKit v2; face, body and hand tracking v1
function isSupported(wxApi, mode) {
  if (!wxApi || typeof wxApi.isVKSupport !== 'function' || !(mode in MODES)) return false
  try {
    return !!wxApi.isVKSupport(mode === 'plane' || mode === 'marker' ? 'v2' : 'v1')
  } catch (e) {
    return false
  }
}

// the SKU to try on: the one asked for when it has an asset, else the first that has one
function skuWithAr(product, skuId) {
  const skus = (product && product.skus) || []
  return skus.find((s) => s.id === skuId && s.ar) || skus.find((s) => s.ar) || null
}

// the try_on tracking event (issue 15's track_events; merchant_ar_report reads it back from
// the events collection by name and props.product_id)
const DEVICE_KEY = 'shop_device_id'
function deviceId(wxApi) {
  let id = wxApi.getStorageSync(DEVICE_KEY)
  if (!id) {
    id = 'dev' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10)
    wxApi.setStorageSync(DEVICE_KEY, id)
  }
  return id
}

function tryOnBatch(wxApi, productId, skuId, mode, now) {
  const at = now || new Date()
  return {
    device_id: deviceId(wxApi), sent_at: at.toISOString(),
    events: [{ event_id: 'tryon-' + at.getTime().toString(36) + Math.random().toString(36).slice(2, 6),
               name: 'try_on', ts: at.toISOString(), page: 'packages/ar/pages/tryon/tryon',
               props: { product_id: productId, sku_id: skuId, mode } }]
  }
}

module.exports = { sceneOf, isSupported, skuWithAr, autoSync, tryOnBatch, MODES }
