// Realistic answers for render tests: what the dev gateway's demo shop answered (recorded by
// `SHOTS_RECORD=file make shots` into tests/fixtures/demo-answers.json), plus hand-written ones
// for what a fresh demo shopper does not have (after-sales, live rooms, a community, a bargain...).
// backend(overrides) is a wx.request handler: overrides[action] (a value or a function of the
// input) wins over the hand-written answers, which win over the recorded ones.
const DEMO = require('../fixtures/demo-answers.json')

// three hours from now, so countdowns show hours
const SOON = new Date(Date.now() + 3 * 3600 * 1000).toISOString()
const IMG = 'https://media.example.com/p001.svg'

const HAND = {
  login: { token: 'tok_render', expires_in: 604800, user: { id: 'usr_render', nickname: '小明', avatar_url: '' } },
  track_events: { accepted: 1 },
  get_experiment_variant: { variant: 'control' },
  list_after_sales: { items: [{ id: 'as_1', order_id: 'ord_1', type: 'refund_only', status: 'pending_review', amount: 3990, reason: '不想要了', items: [{ sku_id: 'sku_001_1', title: '赣南脐橙', quantity: 1 }] }], total: 1, page: 1, page_size: 20, pages: 1 },
  get_after_sale: { id: 'as_1', order_id: 'ord_1', type: 'return_refund', status: 'awaiting_return', amount: 3990, reason: '果子磕碰', images: [], merchant_note: '请寄回原包装',
    items: [{ sku_id: 'sku_001_1', title: '赣南脐橙', quantity: 1 }], return_shipment: null },
  list_live_rooms: { items: [{ id: 'lr_1', title: '脐橙产地直播', status: 'live', anchor_name: '果园老王', cover: IMG, starts_at: '2026-12-01T12:00:00Z',
    products: [{ id: 'prd_001', title: '赣南脐橙', image: IMG, price: 3990 }] }], total: 1, page: 1, page_size: 20, pages: 1 },
  get_live_room: { id: 'lr_2', title: '草莓季预告', status: 'upcoming', anchor_name: '果园老王', cover: IMG, starts_at: SOON, subscribed: false,
    products: [{ id: 'prd_002', title: '丹东红颜草莓', image: IMG, price: 8900 }] },
  get_community: { id: 'cm_1', name: '陆家嘴水果团', leader_nickname: '李团长', members: 128, pickup_store: { name: '陆家嘴旗舰店', address: '陆家嘴环路1000号' },
    is_member: false, is_leader: false, member_prices: [{ sku_id: 'sku_001_1', product_id: 'prd_001', price: 3590 }] },
  get_leader_dashboard: { members: 128, orders: 56, this_month: { orders: 12, commission: { pending: 1200, available: 800, paid: 0 } },
    commission: { pending: 3400, available: 1500, paid: 9900 }, groups: [] },
  get_bargain: { id: 'bg_1', title: '丹东红颜草莓 2斤', image: IMG, start_price: 8900, current_price: 6100, floor_price: 4900, help_count: 3, helpers_needed: 10,
    status: 'active', expires_at: SOON, is_mine: false, helped_by_me: false, helps: [{ avatar: '', nickname: '小红', cut: 1200 }] },
  get_assist: { id: 'at_1', reward: { kind: 'coupon', title: '满99减20' }, help_count: 2, assists_needed: 5, new_users_only: false, status: 'active',
    expires_at: SOON, is_mine: false, helped_by_me: false, helps: [{ avatar: '', nickname: '小红' }] },
  list_points_ledger: { items: [{ reason: '每日签到', points: 10, created_at: '2026-12-02T01:00:00Z' }], total: 1, page: 1, page_size: 20, pages: 1, balance: 10 },
  list_my_coupons: { items: [{ id: 'uc_1', coupon_id: 'cpn_welcome', name: '新人满99减10', kind: 'fixed', amount: 1000, threshold: 9900, status: 'unused', valid_to: '2026-12-31T15:59:59Z' }],
    total: 1, page: 1, page_size: 20, pages: 1 },
  assistant_ask: { answer: '为您找到这些脐橙：', session_id: 'as_s1', handoff: false, suggestions: ['查订单'],
    products: [{ id: 'prd_001', title: '赣南脐橙', image: IMG, price: 3990 }], orders: [] },
  get_trace: { batch: { batch_id: 'tb_1', code: 'tabc', batch_no: 'B-1', origin: '江西赣州', produced_at: '2026-11-01T00:00:00Z', product_title: '赣南脐橙' },
    events: [{ seq: 1, biz_step: 'commissioning', event_time: '2026-11-02T09:00:00Z', read_point: '果园', hash: 'a'.repeat(64), anchor: null }],
    public_key: 'cHVibGljLWtleQ==', verified: true, first_bad_seq: null }
}

function backend(overrides) {
  const extra = overrides || {}
  return (o) => {
    const action = o.url.split('/api/')[1]
    let data = action in extra ? extra[action] : action in HAND ? HAND[action] : DEMO[action]
    if (typeof data === 'function') data = data(o.data || {})
    if (data === undefined) return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION', message: action } } }
    if (data && data.error) return { statusCode: 400, data: { ok: false, error: data.error } }
    return { statusCode: 200, data: { ok: true, data: JSON.parse(JSON.stringify(data)) } }
  }
}

module.exports = { backend, DEMO, HAND }
