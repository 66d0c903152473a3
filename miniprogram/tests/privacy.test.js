/** @jest-environment jsdom */
// Privacy: app.json turns the check on, the app listens to wx.onNeedPrivacyAuthorization, the
// popup (real WXML) shows what the data is for, opens the agreement, and answers agree (with its
// agree button's id) or disagree; every page using a private API carries the popup.
const fs = require('fs')
const path = require('path')
const simulate = require('miniprogram-simulate')
const { createWx } = require('./helpers/wx')
const { tap } = require('./helpers/render-page')
const privacy = require('../services/privacy')

const ROOT = path.join(__dirname, '..')

let popupId = null // one simulate.load per file (see sku-picker.test.js)
function mountPopup() {
  const id = popupId || (popupId = simulate.load(path.join(ROOT, 'components', 'privacy-popup', 'privacy-popup'), { rootPath: ROOT }))
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

beforeEach(() => {
  global.wx = createWx()
  privacy.install()
})

test('app.json turns the privacy check on and the app installs the listener at launch', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  expect(app.__usePrivacyCheck__).toBe(true)
  expect(fs.readFileSync(path.join(ROOT, 'app.js'), 'utf8')).toMatch(/privacy\.install\(\)/)
  expect(wx.named('onNeedPrivacyAuthorization').length).toBe(1)
})

test('location asked: the popup says what for, opens the agreement, and agree resumes the API', async () => {
  const comp = mountPopup()
  await simulate.sleep(0)
  expect(comp.dom.textContent).not.toContain('隐私保护提示')
  const answered = wx.needPrivacy('getLocation')
  await simulate.sleep(0)
  expect(comp.data.show).toBe(true)
  expect(comp.dom.textContent).toContain('定位')
  expect(comp.dom.textContent).toContain('《小店隐私保护指引》') // the name from wx.getPrivacySetting
  tap(comp.dom.querySelector('.main--link'))
  expect(wx.named('openPrivacyContract').length).toBe(1)
  const agreeBtn = Array.from(comp.dom.querySelectorAll('wx-button')).find((b) => b.textContent.includes('同意并继续'))
  expect(agreeBtn.getAttribute('id') || comp.data.agreeId).toBe(privacy.AGREE_BUTTON_ID)
  comp.instance.onAgree() // bindagreeprivacyauthorization (the double has no open-type events)
  expect(await answered).toEqual([{ event: 'exposureAuthorization' }, { buttonId: 'privacy-agree', event: 'agree' }])
  expect(comp.data.show).toBe(false)
  comp.detach()
})

test('disagree refuses the paused API (the page falls back), and with no popup on screen it is refused at once', async () => {
  const comp = mountPopup()
  const answered = wx.needPrivacy('chooseMedia')
  await simulate.sleep(0)
  expect(comp.dom.textContent).toContain('相册或相机')
  tap(Array.from(comp.dom.querySelectorAll('wx-button')).find((b) => b.textContent.includes('不同意')))
  expect((await answered).pop()).toEqual({ event: 'disagree' })
  comp.detach()
  await expect(wx.needPrivacy('getLocation')).resolves.toEqual([{ event: 'disagree' }])
})

// the private APIs (and components) the shop may use, and how their pages are found
const PRIVATE_USE = /wx\.(getLocation|chooseLocation|chooseAddress|chooseMedia|chooseImage|getFuzzyLocation)\(|open-type="chooseAvatar"|type="nickname"|<camera\b|<xr-tryon\b|require\([^)]*location['"]\)/

test('every page that uses location, album, camera, address or avatar carries <privacy-popup>', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  const pages = app.pages.concat(...app.subPackages.map((s) => s.pages.map((p) => s.root.replace(/\/$/, '') + '/' + p)))
  const missing = []
  for (const page of pages) {
    const read = (ext) => { try { return fs.readFileSync(path.join(ROOT, page + ext), 'utf8') } catch (e) { return '' } }
    if (!PRIVATE_USE.test(read('.js') + read('.wxml'))) continue
    const json = JSON.parse(read('.json') || '{}')
    const registered = (json.usingComponents && json.usingComponents['privacy-popup']) || (app.usingComponents && app.usingComponents['privacy-popup'])
    if (!/<privacy-popup\b/.test(read('.wxml')) || !registered) missing.push(page)
  }
  expect(missing).toEqual([])
})
