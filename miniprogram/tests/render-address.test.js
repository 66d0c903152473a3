/** @jest-environment jsdom */
// Render test: the address book's real WXML: each address with its 默认 tag and operations,
// the bottom bar's import and add buttons, and the empty state.
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { installApp } = require('./helpers/page')
const { renderPage, texts, tap } = require('./helpers/render-page')
const config = require('../config')

const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })

test('the address book renders addresses, the default tag, and its actions', async () => {
  config.mode = 'gateway'
  installApp()
  let items = [
    { id: 'adr_1', name: '张三', phone: '13800138000', province: '上海市', city: '上海市', district: '浦东新区', detail: '世纪大道100号', is_default: true },
    { id: 'adr_2', name: '李四', phone: '13900139000', province: '广东省', city: '深圳市', district: '南山区', detail: '科技园1号', is_default: false }
  ]
  global.wx = createWx({
    request: (o) => {
      const action = o.url.split('/api/')[1]
      if (action === 'list_addresses') return ok({ items, total: items.length })
      if (action === 'delete_address') { items = items.filter((a) => a.id !== o.data.address_id); return ok({ deleted: true }) }
      return ok({})
    }
  })
  const comp = renderPage('packages/address/pages/list/list')
  comp.instance.onLoad({})
  await comp.instance.onShow()
  await simulate.sleep(0)

  expect(texts(comp, '.main--card__name')).toEqual(['张三', '李四'])
  expect(texts(comp, '.main--card__addr')).toEqual(['上海市上海市浦东新区世纪大道100号', '广东省深圳市南山区科技园1号'])
  expect(texts(comp, '.main--tag')).toEqual(['默认'])
  expect(texts(comp, '.main--op--default')).toEqual(['默认地址', '设为默认'])
  expect(texts(comp, '.main--btn')).toEqual(['导入微信地址', '新增收货地址'])

  // 删除 on the second address: confirmed (the double taps confirm), it is gone
  tap(comp.dom.querySelectorAll('.main--op--delete')[1])
  await simulate.sleep(0)
  await simulate.sleep(0)
  await simulate.sleep(0)
  expect(wx.named('showModal')).toHaveLength(1)
  expect(texts(comp, '.main--card__name')).toEqual(['张三'])

  items = []
  await comp.instance.load()
  await simulate.sleep(0)
  expect(texts(comp, 'empty-state').join(' ')).toContain('还没有收货地址')
})
