/** @jest-environment jsdom */
// Render tests of the social subpackage: group-buy team, bargain, assist.
const { openPage, texts } = require('./helpers/render-page')
const { backend, DEMO } = require('./helpers/answers')

test('team (a campaign): the product, the team size and the group price, 去开团', async () => {
  const comp = await openPage('packages/social/pages/team/team', { campaign_id: DEMO.get_group_buy.id }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('海南金煌芒')
  expect(text).toContain('2 人团')
  expect(text).toContain('¥35.90')
  expect(texts(comp, 'wx-button')).toContain('去开团')
})

test('bargain (a friend\'s): prices, progress, the countdown and the help button', async () => {
  const comp = await openPage('packages/social/pages/bargain/bargain', { id: 'bg_1' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('丹东红颜草莓 2斤')
  expect(text).toContain('当前价¥61.00')
  expect(text).toContain('已砍 ¥28.00 · 3/10 位好友帮砍')
  expect(texts(comp, 'countdown')[0]).toMatch(/^0?[23]:\d\d:\d\d$/)
  expect(texts(comp, 'wx-button')).toContain('帮TA砍一刀')
  expect(texts(comp, '.main--help')[0]).toContain('小红')
})

test('assist (a friend\'s): the reward, how many helped and the help button', async () => {
  const comp = await openPage('packages/social/pages/assist/assist', { id: 'at_1' }, { request: backend() })
  const text = comp.dom.textContent
  expect(text).toContain('助力领券：满99减20')
  expect(text).toContain('2/5 位好友已助力')
  expect(text).toContain('还差 3 位好友助力')
  expect(texts(comp, 'wx-button')).toContain('帮TA助力')
})
