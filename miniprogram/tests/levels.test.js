// Member levels read in Chinese on the membership page, the next level's gap in yuan.
const { levelName, nextLevelText } = require('../utils/levels')

test('the default ladder reads in Chinese, a merchant\'s own name as it is', () => {
  expect(levelName('normal')).toBe('普通会员')
  expect(levelName('Silver')).toBe('白银会员')
  expect(levelName('VIP至尊')).toBe('VIP至尊')
})

test('the gap to the next level is money to spend, and the top level says so', () => {
  expect(nextLevelText({ name: 'silver', growth_needed: 100000 })).toBe('再消费 ¥1000.00 升级白银会员')
  expect(nextLevelText(null)).toBe('已是最高等级')
})
