/** @jest-environment node */
// The address book: list, add, edit, delete (after a confirm), default, region picker, phone
// checks, import from wx.chooseAddress, and checkout's choose mode through the event channel.
const { createWx } = require('./helpers/wx')
const { createPage, installApp } = require('./helpers/page')
const config = require('../config')
const book = require('../packages/address/address')

const LIST = 'packages/address/pages/list/list'
const EDIT = 'packages/address/pages/edit/edit'
const ok = (data) => ({ statusCode: 200, data: { ok: true, data } })
const action = (o) => o.url.split('/api/')[1]
const A1 = { id: 'adr_1', name: '张三', phone: '13800138000', province: '上海市', city: '上海市', district: '浦东新区', detail: '世纪大道100号', is_default: true }
const A2 = { id: 'adr_2', name: '李四', phone: '13900139000', province: '广东省', city: '深圳市', district: '南山区', detail: '科技园1号', is_default: false }

// a fake shop keeping the addresses, answering as add/list/update/delete_address do
function shop(opts) {
  const o = opts || {}
  let items = (o.items || [A1, A2]).map((a) => Object.assign({}, a))
  const w = createWx({
    modalConfirm: o.modalConfirm,
    request: (r) => {
      const a = action(r)
      const d = r.data
      if (a === 'login') return ok({ token: 'tok' })
      if (a === 'list_addresses') return ok({ items: items.map((x) => Object.assign({}, x)), total: items.length })
      if (a === 'add_address') {
        const added = Object.assign({ id: 'adr_' + (items.length + 1) }, d, { is_default: !!d.is_default || !items.length })
        items.push(added)
        return ok(added)
      }
      if (a === 'update_address') {
        if (d.is_default) items.forEach((x) => { x.is_default = false })
        const found = items.find((x) => x.id === d.address_id)
        Object.assign(found, d)
        delete found.address_id
        return ok(found)
      }
      if (a === 'delete_address') { items = items.filter((x) => x.id !== d.address_id); return ok({ deleted: true }) }
      return { statusCode: 404, data: { ok: false, error: { code: 'UNKNOWN_ACTION' } } }
    }
  })
  w.chooseAddress = (arg) => {
    w.calls.push({ name: 'chooseAddress', arg })
    if (o.wechat) arg.success(Object.assign({ errMsg: 'chooseAddress:ok' }, o.wechat))
    else arg.fail({ errMsg: 'chooseAddress:fail cancel' })
  }
  return w
}
const sent = (name) => wx.named('request').filter((r) => action(r) === name).map((r) => r.data)
const tapOn = (dataset, extra) => Object.assign({ currentTarget: { dataset } }, extra || {})

beforeEach(() => { config.mode = 'gateway'; installApp() })

test('phone rules follow the server: mobiles and landlines with an area code', () => {
  expect(book.validPhone('13800138000')).toBe(true)
  expect(book.validPhone('+86 138 0013 8000')).toBe(true)
  expect(book.validPhone('0755-12345678')).toBe(true)
  expect(book.validPhone('12800138000')).toBe(false)
  expect(book.validPhone('1380013800')).toBe(false)
  expect(book.problem({ name: '张三', phone: '123', province: '上海市', city: '上海市', detail: 'x' })).toBe('请填写正确的手机号')
  expect(book.problem({ name: '张三', phone: '13800138000', province: '', city: '', detail: 'x' })).toBe('请选择所在地区')
})

test('the list shows every address with the default first', async () => {
  global.wx = shop()
  const page = createPage(LIST)
  page.onLoad({})
  await page.onShow()
  expect(page.data.items.map((a) => a.id)).toEqual(['adr_1', 'adr_2'])
  expect(page.data.items[0].full).toBe('上海市上海市浦东新区世纪大道100号')
  expect(page.data.choose).toBe(false)
})

test('set default sends update_address and reloads', async () => {
  global.wx = shop()
  const page = createPage(LIST)
  await page.onShow()
  await page.onDefault(tapOn({ id: 'adr_2', default: false }))
  expect(sent('update_address')).toEqual([{ address_id: 'adr_2', is_default: true }])
  expect(page.data.items.find((a) => a.id === 'adr_2').is_default).toBe(true)
  await page.onDefault(tapOn({ id: 'adr_2', default: true }))
  expect(sent('update_address')).toHaveLength(1)   // already the default: nothing sent
})

test('delete asks first: cancel keeps the address, confirm deletes it', async () => {
  global.wx = shop({ modalConfirm: false })
  const page = createPage(LIST)
  await page.onShow()
  expect(await page.onDelete(tapOn({ id: 'adr_2' }))).toBe(false)
  expect(sent('delete_address')).toHaveLength(0)
  expect(wx.named('showModal')[0].content).toMatch('删除')

  global.wx = shop()
  const again = createPage(LIST)
  await again.onShow()
  expect(await again.onDelete(tapOn({ id: 'adr_2' }))).toBe(true)
  expect(sent('delete_address')).toEqual([{ address_id: 'adr_2' }])
  expect(again.data.items.map((a) => a.id)).toEqual(['adr_1'])
})

test('import from WeChat maps chooseAddress onto add_address', async () => {
  global.wx = shop({ wechat: { userName: '王五', telNumber: '15900001111', provinceName: '浙江省', cityName: '杭州市', countyName: '西湖区', detailInfo: '文三路1号', postalCode: '310000', nationalCode: '330106' } })
  const page = createPage(LIST)
  await page.onShow()
  const saved = await page.onImport()
  expect(sent('add_address')).toEqual([{ name: '王五', phone: '15900001111', province: '浙江省', city: '杭州市', district: '西湖区', detail: '文三路1号' }])
  expect(saved.id).toBe('adr_3')
  expect(page.data.items).toHaveLength(3)
})

test('an import with a phone the shop refuses opens the form to finish it', async () => {
  global.wx = shop({ wechat: { userName: '王五', telNumber: '+1 555 0100', provinceName: '浙江省', cityName: '杭州市', countyName: '西湖区', detailInfo: '文三路1号' } })
  const page = createPage(LIST)
  await page.onShow()
  expect(await page.onImport()).toBe(null)
  expect(sent('add_address')).toHaveLength(0)
  expect(wx.named('navigateTo')[0].url).toBe('/packages/address/pages/edit/edit')
  const edit = createPage(EDIT)
  await edit.onLoad({})
  expect(edit.data.form.name).toBe('王五')
  expect(edit.data.region).toEqual(['浙江省', '杭州市', '西湖区'])
})

test('a cancelled import sends nothing and says nothing', async () => {
  global.wx = shop()
  const page = createPage(LIST)
  await page.onShow()
  expect(await page.onImport()).toBe(null)
  expect(sent('add_address')).toHaveLength(0)
  expect(wx.named('showToast')).toHaveLength(0)
})

test('choose mode hands the tapped address to checkout through the event channel', async () => {
  global.wx = shop()
  const page = createPage(LIST)
  const emitted = []
  page.getOpenerEventChannel = () => ({ emit: (name, data) => emitted.push([name, data]) })
  page.onLoad({ mode: 'choose', selected: 'adr_1' })
  await page.onShow()
  page.onTapItem(tapOn({ id: 'adr_2' }))
  expect(emitted).toEqual([['chosen', A2]])
  expect(wx.named('navigateBack')).toHaveLength(1)
  expect(wx.named('navigateTo')).toHaveLength(0)
})

test('outside choose mode a tap opens the address to edit', async () => {
  global.wx = shop()
  const page = createPage(LIST)
  page.onLoad({})
  await page.onShow()
  page.onTapItem(tapOn({ id: 'adr_2' }))
  expect(wx.named('navigateTo')[0].url).toBe('/packages/address/pages/edit/edit?id=adr_2')
})

test('a new address: the region picker fills province, city and district; a bad phone is refused', async () => {
  global.wx = shop()
  const page = createPage(EDIT)
  await page.onLoad({})
  const field = (name, value) => page.onField(tapOn({ field: name }, { detail: { value } }))
  field('name', '赵六')
  field('phone', '1380013')
  page.onRegion({ detail: { value: ['北京市', '北京市', '朝阳区'] } })
  field('detail', '建国路88号')
  page.onDefault({ detail: { value: true } })
  expect(await page.save()).toBe(null)
  expect(wx.named('showToast')[0].title).toBe('请填写正确的手机号')
  field('phone', '13700137000')
  const saved = await page.save()
  expect(sent('add_address')).toEqual([{ name: '赵六', phone: '13700137000', province: '北京市', city: '北京市', district: '朝阳区', detail: '建国路88号', is_default: true }])
  expect(saved.id).toBe('adr_3')
  expect(wx.named('navigateBack')).toHaveLength(1)
})

test('editing loads the address and saves it with update_address', async () => {
  global.wx = shop()
  const page = createPage(EDIT)
  await page.onLoad({ id: 'adr_2' })
  expect(page.data.form.name).toBe('李四')
  expect(page.data.region).toEqual(['广东省', '深圳市', '南山区'])
  page.onField(tapOn({ field: 'detail' }, { detail: { value: '科技园2号' } }))
  await page.save()
  expect(sent('update_address')[0]).toMatchObject({ address_id: 'adr_2', detail: '科技园2号', is_default: false })
})

test('checkout opens the book in choose mode and takes the address it sends back', () => {
  global.wx = shop()
  const checkout = createPage('packages/order/pages/checkout/checkout')
  checkout.setData({ address: A1, addresses: [A1] })
  checkout.pickAddress()
  const nav = wx.named('navigateTo')[0]
  expect(nav.url).toBe('/packages/address/pages/list/list?mode=choose&selected=adr_1')
  nav.events.chosen(A2)
  expect(checkout.data.address).toEqual(A2)
  expect(checkout.data.addresses.map((a) => a.id)).toEqual(['adr_1', 'adr_2'])
})
