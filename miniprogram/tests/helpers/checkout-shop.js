// A fake shop for checkout tests: addresses, a coupon, 300 points, a cart line, and a
// preview_order that prices like the server (coupon 500 off, points 1 fen each).
const { createWx } = require('./wx')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]

const ITEM = { sku_id: 'sku_5', product_id: 'prd_5', title: '赣南脐橙', image: 'https://img.test/o.png',
  specs: { 规格: '5斤装' }, price: 3990, quantity: 1, subtotal: 3990, final_price: 3990, final_subtotal: 3990 }

// a fake preview_order pricing like the server: coupon 500 off, points 1 fen each
function previewOf(d) {
  const quantity = d.items ? d.items[0].quantity : 2
  const goods = 3990 * quantity
  const discounts = []
  if (d.coupon_id) discounts.push({ kind: 'coupon', amount: 500, label: '优惠券' })
  if (d.points) discounts.push({ kind: 'points', amount: d.points, label: '积分抵扣' })
  const off = discounts.reduce((s, x) => s + x.amount, 0)
  return { items: [Object.assign({}, ITEM, { quantity, subtotal: goods, final_subtotal: goods })],
           goods_total: goods, discounts, freight: 0, payable: goods - off,
           points_max: Math.floor((goods - (d.coupon_id ? 500 : 0)) / 2), member_level: null, pickup: false }
}

function shop(extra) {
  return createWx({ request: (o) => {
    const handlers = Object.assign({
      list_addresses: () => ok({ items: [{ id: 'adr_1', name: '张三', is_default: true }, { id: 'adr_2', name: '李四' }] }),
      list_my_coupons: () => ok({ items: [{ id: 'uc_1', name: '满30减5', kind: 'fixed', amount: 500, threshold: 3000, status: 'available' }] }),
      get_membership: () => ok({ points: 300 }),
      cart_list: () => ok({ items: [{ sku_id: 'sku_5', title: '赣南脐橙', price: 3990, quantity: 2, selected: true, valid: true, specs: {} }] }),
      preview_order: (d) => ok(previewOf(d)),
      place_order: () => ok({ id: 'ord_1' })
    }, extra || {})
    const h = handlers[action(o)]
    return h ? h(o.data) : { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  } })
}

module.exports = { shop, previewOf, action }
