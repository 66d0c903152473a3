/** @jest-environment node */
// End to end against the real dev gateway (demo data): the search page's hot words and results,
// the address book's import from WeChat, default and delete, and the Me page's order counts:
// the pages' inputs are what the server's strict models accept.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const { realRequest, useGateway } = require('./helpers/gateway')
const config = require('../config')
const api = require('../services/api')
const track = require('../services/track')

const gateway = useGateway()

function phone(extra) {
  const w = createWx({ request: realRequest })
  Object.assign(w, extra || {})
  return w
}

test('search: hot words from the shop, a hot word finds products, every sort is accepted', async () => {
  global.wx = phone()
  installApp()
  track.reset()
  const page = createPage('packages/search/pages/search/search')
  await page.onLoad({})
  expect(page.data.hot.length).toBeGreaterThan(0)     // the demo shop's best sellers' words
  await page.search(page.data.hot[0])
  expect(page.data.error).toBe('')
  expect(page.data.items.length).toBeGreaterThan(0)
  for (const key of ['sales', 'price', 'price', 'newest']) {
    await page.onSort({ currentTarget: { dataset: { key } } })
    expect(page.data.error).toBe('')
  }
  await track.flush()
  expect(track.pending().filter((e) => e.name === 'search')).toHaveLength(0)   // sent, accepted
}, 60000)

test('address book: import from WeChat, set default, delete; Me shows the order counts', async () => {
  global.wx = phone({
    chooseAddress: (o) => o.success({ errMsg: 'chooseAddress:ok', userName: '王五', telNumber: '15900001111', provinceName: '浙江省', cityName: '杭州市', countyName: '西湖区', detailInfo: '文三路1号', postalCode: '310000' })
  })
  installApp()
  api.setToken('')
  const book = createPage('packages/address/pages/list/list')
  book.onLoad({})
  await book.onShow()
  const before = book.data.items.length
  const imported = await book.onImport()
  expect(imported.id).toBeTruthy()
  expect(book.data.items).toHaveLength(before + 1)
  const edit = createPage('packages/address/pages/edit/edit')
  await edit.onLoad({})
  Object.entries({ name: '赵六', phone: '13700137000', detail: '建国路88号' }).forEach(([field, value]) =>
    edit.onField({ currentTarget: { dataset: { field } }, detail: { value } }))
  edit.onRegion({ detail: { value: ['北京市', '北京市', '朝阳区'] } })
  const second = await edit.save()
  expect(second.id).toBeTruthy()
  await book.onShow()
  await book.onDefault({ currentTarget: { dataset: { id: second.id, default: false } } })
  expect(book.data.items[0].id).toBe(second.id)          // the default comes first
  await book.onDelete({ currentTarget: { dataset: { id: imported.id } } })
  expect(book.data.items.map((a) => a.id)).not.toContain(imported.id)

  const me = createPage('pages/me/me')
  await me.onShow()
  expect(me.data.error).toBe('')
  expect(me.data.shortcuts.map((s) => s.count)).toEqual([0, 0, 0, 0])
}, 60000)
