/** @jest-environment jsdom */
// Render test: the Me page's real WXML: the avatar button (open-type chooseAvatar), the
// nickname input (type nickname), the order shortcuts with counts, the entries and the
// customer-service button (open-type contact).
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts } = require('./helpers/render-page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })

test('Me renders the profile, the order shortcuts with counts and the entries', async () => {
  config.mode = 'gateway'
  installApp()
  global.wx = createWx({
    request: (o) => {
      const action = o.url.split('/api/')[1]
      if (action === 'login') return ok({ token: 'tok' })
      if (action === 'get_profile') return ok({ id: 'usr_1', nickname: '小红', avatar_url: 'https://cos.test/a.png' })
      if (action === 'order_counts') return ok({ pending_payment: 1, to_ship: 0, to_receive: 3, after_sale: 0 })
      return ok({})
    }
  })
  const comp = renderPage('pages/me/me')
  await comp.instance.onShow()
  await simulate.sleep(0)

  // miniprogram-simulate keeps no attributes of built-in tags: the open-types are read from
  // the WXML the rendered nodes came from
  const wxml = require('fs').readFileSync(require('path').join(__dirname, '..', 'pages/me/me.wxml'), 'utf8')
  expect(comp.dom.querySelector('wx-button.main--avatar-btn wx-image.main--avatar')).not.toBeNull()
  expect(wxml).toMatch(/<button class="avatar-btn" open-type="chooseAvatar" bindchooseavatar="onChooseAvatar"/)
  expect(comp.dom.querySelector('wx-input.main--nickname')).not.toBeNull()
  expect(wxml).toMatch(/<input class="nickname" type="nickname"/)
  expect(comp.instance.data.profile.nickname).toBe('小红')

  expect(texts(comp, '.main--shortcut__text')).toEqual(['待付款', '待发货', '待收货', '退款/售后'])
  expect(texts(comp, '.main--shortcut__count')).toEqual(['1', '0', '3', '0'])
  expect(texts(comp, '.main--entry')).toEqual(expect.arrayContaining(['收货地址›', '我的优惠券›', '积分明细›', '智能导购›', '联系客服›']))
  expect(comp.dom.querySelector('wx-button.main--contact')).not.toBeNull()
  expect(wxml).toMatch(/<button class="row entry contact" open-type="contact"/)
})
