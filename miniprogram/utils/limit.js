// A product's purchase limit (限购, `purchase_limit` of get_product / list_products) in words,
// and the most one order may hold of it; the shop refuses more with PURCHASE_LIMIT anyway.
function limitText(limit) {
  if (!limit) return ''
  const parts = []
  if (limit.per_order) parts.push('每单限购' + limit.per_order + '件')
  if (limit.per_shopper_per_day) parts.push('每人每天限购' + limit.per_shopper_per_day + '件')
  if (limit.per_shopper_per_campaign) parts.push((limit.campaign ? limit.campaign + '期间' : '') + '每人限购' + limit.per_shopper_per_campaign + '件')
  return parts.join(' · ')
}

function perOrderMax(limit) {
  if (!limit) return 0
  const caps = [limit.per_order, limit.per_shopper_per_day, limit.per_shopper_per_campaign].filter((n) => n > 0)
  return caps.length ? Math.min.apply(null, caps) : 0
}

module.exports = { limitText, perOrderMax }
