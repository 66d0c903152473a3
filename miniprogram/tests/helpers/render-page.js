// Render a page's real WXML, with its real usingComponents, through miniprogram-simulate.
// miniprogram-simulate only knows Component(), so Page(def) is shimmed into
// Component({ data: def.data, methods: <def's functions> }) before the page's folder is loaded
// (simulate.load(pagePath, { rootPath }) then registers the page's components too, in one load:
// keep one renderPage per test file, see the quirk noted in sku-picker.test.js).
// No page lifecycle runs by itself: call comp.instance.onLoad / onShow from the test.
const path = require('path')
const simulate = require('miniprogram-simulate')

const ROOT = path.join(__dirname, '..', '..')

function shimPage() {
  global.Page = (def) => {
    const methods = {}
    for (const [k, v] of Object.entries(def)) if (k !== 'data' && typeof v === 'function') methods[k] = v
    global.Component({ data: def.data || {}, methods })
  }
}

// simulate.load runs each page's and component's JS with require: a second load in the same
// file found it cached under jest, Component() did not run again and the components rendered
// empty. Evaluating the UI file afresh each time (its own requires of services/, utils/, config
// still shared and cached) lets one test file render several pages.
const fs = require('fs')
require('miniprogram-simulate/src/utils').runJs = (filePath) => {
  const file = filePath.endsWith('.js') ? filePath : filePath + '.js'
  const mod = { exports: {} }
  const localRequire = (rel) => require(rel.startsWith('.') ? path.resolve(path.dirname(file), rel) : rel)
  // eslint-disable-next-line no-new-func
  new Function('require', 'module', 'exports', '__filename', '__dirname', fs.readFileSync(file, 'utf8'))(
    localRequire, mod, mod.exports, file, path.dirname(file))
}

function renderPage(route) {
  shimPage()
  const id = simulate.load(path.join(ROOT, route), { rootPath: ROOT })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

// The rendered text (whitespace squeezed) of every DOM node matching a selector. Selectors are
// plain DOM ones on the rendered tree: the page's classes carry the 'main--' prefix
// ('.main--row'), built-in tags the 'wx-' one ('wx-button'), custom components keep their tag.
function texts(comp, selector) {
  return Array.from(comp.dom.querySelectorAll(selector)).map((n) => n.textContent.replace(/\s+/g, ' ').trim())
}

// Tap a rendered DOM node (e.g. one found with comp.dom.querySelectorAll), as j-component's own
// dispatchEvent does: the tap goes to the node's exparser element and bubbles to its bind:tap.
// (j-component's comp.querySelector only finds nodes by class or id.)
// The tap runs as the user's gesture (wx.tap of the double), so tap-only APIs work in its handler.
function tap(domNode) {
  const exparser = require('miniprogram-exparser')
  if (!domNode || !domNode.__wxElement) throw new Error('not a rendered node')
  const w = global.wx
  if (w && typeof w.tap === 'function') return w.tap(() => dispatchTap(exparser, domNode))
  return dispatchTap(exparser, domNode)
}

function dispatchTap(exparser, domNode) {
  exparser.Event.dispatchEvent(domNode.__wxElement, exparser.Event.create('tap', {}, {
    bubbles: true, capturePhase: true, composed: true, extraFields: { touches: {}, changedTouches: {} }
  }))
}

// Open a page as the framework would: a wx double whose requests `request` answers (e.g.
// answers.backend()), the page rendered, onLoad(query), onShow and onReady run, its requests
// answered. Returns the rendered page (comp.instance is the page).
async function openPage(route, query, wxOptions) {
  const config = require('../../config')
  config.mode = 'gateway'
  if (!global.getApp) require('./page').installApp()
  global.wx = require('./wx').createWx(wxOptions || {})
  const comp = renderPage(route)
  const page = comp.instance
  if (page.onLoad) await page.onLoad(query || {})
  if (page.onShow) await page.onShow()
  if (page.onReady) await page.onReady()
  for (let i = 0; i < 5; i++) await simulate.sleep(5)
  return comp
}

module.exports = { renderPage, openPage, texts, tap, ROOT }
