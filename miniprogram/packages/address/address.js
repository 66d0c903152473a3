// The address book's rules, shared by its pages: the fields add_address takes, phone checks as
// the server's (a mobile, or a landline with its area code), and wx.chooseAddress's answer
// mapped onto them.
const FIELDS = ['name', 'phone', 'province', 'city', 'district', 'detail']
const MOBILE = /^1[3-9]\d{9}$/
const LANDLINE = /^0\d{2,3}-?\d{7,8}$/

function cleanPhone(phone) { return String(phone || '').replace(/[\s()]/g, '').replace(/^\+?86/, '') }

function validPhone(phone) { const p = cleanPhone(phone); return MOBILE.test(p) || LANDLINE.test(p) }

// the form -> a Chinese sentence of what is wrong, or ''
function problem(form) {
  const f = form || {}
  if (!String(f.name || '').trim()) return '请填写收货人'
  if (!validPhone(f.phone)) return '请填写正确的手机号'
  if (!f.province || !f.city) return '请选择所在地区'
  if (!String(f.detail || '').trim()) return '请填写详细地址'
  return ''
}

// the form -> add_address's input (trimmed, within the server's lengths)
function toInput(form) {
  const f = form || {}
  const out = {}
  for (const k of FIELDS) out[k] = String(f[k] || '').trim()
  out.phone = cleanPhone(out.phone)
  out.name = out.name.slice(0, 32)
  out.detail = out.detail.slice(0, 200)
  return out
}

// wx.chooseAddress's answer (userName, telNumber, provinceName, cityName, countyName,
// detailInfo; streetName and detailInfoNew in newer clients) -> the form
function fromWechat(res) {
  const r = res || {}
  const street = r.streetName && !(r.detailInfo || '').startsWith(r.streetName) ? r.streetName : ''
  return {
    name: r.userName || '', phone: cleanPhone(r.telNumber), province: r.provinceName || '',
    city: r.cityName || '', district: r.countyName || '',
    detail: street + (r.detailInfoNew || r.detailInfo || '')
  }
}

function fullText(a) { return a ? [a.province, a.city, a.district, a.detail].filter(Boolean).join('') : '' }

module.exports = { FIELDS, validPhone, problem, toInput, fromWechat, fullText }
