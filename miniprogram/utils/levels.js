// Member level names as a shopper reads them: the default ladder's keys in Chinese; a name the
// merchant chose (merchant_set_member_levels) is shown as it is.
const { yuan } = require('./money')

const NAMES = { normal: '普通会员', silver: '白银会员', gold: '黄金会员', platinum: '铂金会员', diamond: '钻石会员' }

function levelName(name) {
  if (!name) return ''
  return NAMES[String(name).toLowerCase()] || String(name)
}

// growth counts fen paid: "再消费 ¥1000.00 升级白银会员"
function nextLevelText(next) {
  if (!next) return '已是最高等级'
  return '再消费 ¥' + yuan(next.growth_needed) + ' 升级' + levelName(next.name)
}

module.exports = { levelName, nextLevelText }
