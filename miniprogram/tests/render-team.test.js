/** @jest-environment jsdom */
// Render test: the team page shows members' avatars (and open seats); someone already in the
// team (the leader too) is not offered 参团, a stranger is.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

const future = new Date(Date.now() + 3600 * 1000).toISOString()
const TEAM = { id: 'team_1', campaign_id: 'gb_1', status: 'forming', team_size: 3, seats_left: 1,
  expires_at: future, in_team: false, members: [
    { nickname: '团长小王', avatar: 'https://img.test/a.png', is_leader: true },
    { nickname: '小李', avatar: '', is_leader: false }] }

function shopWith(team) {
  return createWx({ request: (o) => {
    const name = o.url.split('/api/')[1]
    if (name === 'get_team') return { statusCode: 200, data: { ok: true, data: team } }
    if (name === 'create_share') return { statusCode: 200, data: { ok: true, data: { code: 'c1', share_id: 's1' } } }
    return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
  } })
}

test('members show avatars; 参团 for a stranger, not for someone in the team', async () => {
  config.mode = 'gateway'; config.dev = true; installApp()
  global.wx = shopWith(TEAM)
  const comp = renderPage('packages/social/pages/team/team')
  await comp.instance.onLoad({ team_id: 'team_1' })
  await simulate.sleep(0)
  // the leader's avatar is an image; a member without one shows their initial
  expect(comp.dom.querySelectorAll('wx-image.main--avatar').length).toBe(1)
  expect(comp.instance.data.seats[0].avatar).toBe('https://img.test/a.png')
  expect(texts(comp, '.main--avatar--text')).toEqual(['小'])
  expect(texts(comp, '.main--nick')).toEqual(['团长小王', '小李', '待加入'])
  expect(texts(comp, '.main--leader-tag')).toEqual(['团长'])
  expect(texts(comp, 'wx-button')).toContain('参团')

  global.wx = shopWith(Object.assign({}, TEAM, { in_team: true }))
  await comp.instance.load()
  await simulate.sleep(0)
  expect(texts(comp, 'wx-button')).not.toContain('参团')
  expect(comp.dom.textContent).toContain('你已在团中')
})
