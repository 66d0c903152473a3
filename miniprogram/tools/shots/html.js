// Turn a page rendered by miniprogram-simulate into one self-contained HTML document a browser
// can shoot: the rendered DOM (built-in tags are wx-view, wx-image...; classes carry the
// j-component prefixes: 'main--' for the page, '<tag>--' for a component) plus the app's, the
// page's and each component's WXSS rewritten to match (rpx at a 375 px wide screen: 1 rpx = 0.5 px),
// a navigation bar, and the tab bar on tab pages. Built-in components get WeChat-like defaults.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..', '..')
const WIDTH = 375
const RPX = WIDTH / 750

const BUILTINS = ['view', 'text', 'image', 'button', 'input', 'textarea', 'scroll-view', 'swiper', 'swiper-item',
  'navigator', 'icon', 'checkbox', 'checkbox-group', 'radio', 'radio-group', 'picker', 'picker-view', 'switch',
  'slider', 'progress', 'form', 'label', 'rich-text', 'map', 'video', 'camera', 'canvas', 'live-player',
  'cover-view', 'cover-image', 'movable-area', 'movable-view', 'block', 'web-view', 'ad', 'official-account']

function rpx(css) {
  return css.replace(/(-?\d*\.?\d+)rpx/g, (m, n) => +(parseFloat(n) * RPX).toFixed(2) + 'px')
}

// '.a .b > view::after, page' -> '.p--a .p--b > wx-view::after, .shot-page'
function selector(sel, prefix) {
  return sel.split(',').map((one) => one.trim()
    .replace(/\.(-?[_a-zA-Z][\w-]*)/g, (m, cls) => '.' + prefix + '--' + cls)
    .replace(/(^|[\s>+~(])([a-z][a-z-]*)(?=$|[\s.:#[>+~,)])/g, (m, pre, tag) => {
      if (tag === 'page') return pre + '.shot-page'
      return BUILTINS.includes(tag) ? pre + 'wx-' + tag : m
    })).join(', ')
}

// a small WXSS -> CSS pass: @import inlined, selectors prefixed, rpx converted; @media bodies
// recurse, @keyframes / @font-face pass through
function wxss(file, prefix, seen) {
  if (!fs.existsSync(file)) return ''
  seen = seen || new Set()
  if (seen.has(file)) return ''
  seen.add(file)
  let src = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
  src = src.replace(/@import\s+["']([^"']+)["'];?/g, (m, rel) => wxss(path.resolve(path.dirname(file), rel), prefix, seen))
  return rpx(rules(src, prefix))
}

function rules(src, prefix) {
  let out = ''
  let i = 0
  while (i < src.length) {
    const open = src.indexOf('{', i)
    if (open < 0) break
    const head = src.slice(i, open).trim()
    // the matching brace
    let depth = 1
    let j = open + 1
    while (j < src.length && depth) { if (src[j] === '{') depth++; else if (src[j] === '}') depth--; j++ }
    const body = src.slice(open + 1, j - 1)
    if (head.startsWith('@media') || head.startsWith('@supports')) out += head + '{' + rules(body, prefix) + '}\n'
    else if (head.startsWith('@')) out += head + '{' + body + '}\n'
    else if (head) out += selector(head, prefix) + '{' + body + '}\n'
    i = j
  }
  return out
}

// {tag: file of the component} for every custom component a page (or component) uses, recursively
function components(jsonFile, acc) {
  acc = acc || {}
  if (!fs.existsSync(jsonFile)) return acc
  const using = (JSON.parse(fs.readFileSync(jsonFile, 'utf8')).usingComponents) || {}
  for (const [tag, rel] of Object.entries(using)) {
    if (rel.startsWith('plugin://')) continue
    const file = rel.startsWith('/') ? path.join(ROOT, rel) : path.resolve(path.dirname(jsonFile), rel)
    if (acc[tag] === file) continue
    acc[tag] = file
    components(file + '.json', acc)
  }
  return acc
}

function escapeHtml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function imageUrl(src, route) {
  if (!src) return ''
  if (/^(https?:|data:|file:)/.test(src)) return src
  const file = src.startsWith('/') ? path.join(ROOT, src) : path.resolve(path.join(ROOT, path.dirname(route)), src)
  return 'file://' + file
}

const FIT = { aspectFill: 'cover', aspectFit: 'contain', widthFix: 'cover', heightFix: 'cover' }

// the attributes j-component keeps on its virtual nodes (src, type, size...) copied onto the DOM
// as data-* / style, for the built-ins a browser cannot know about
function annotate(dom, route) {
  for (const node of dom.querySelectorAll('*')) {
    const el = node.__wxElement
    const attrs = {}
    for (const a of ((el && el._vt && el._vt.attrs) || [])) attrs[a.name] = a.value
    if (typeof attrs.style === 'string' && attrs.style) node.setAttribute('style', rpx(attrs.style))
    const tag = node.tagName.toLowerCase()
    if (tag === 'wx-image' || tag === 'wx-cover-image') {
      const url = imageUrl(attrs.src, route)
      if (url) node.style.backgroundImage = 'url("' + url + '")'
      node.style.backgroundSize = FIT[attrs.mode] || '100% 100%'
    }
    for (const name of ['type', 'size', 'plain', 'checked', 'disabled', 'scroll-x', 'scroll-y', 'open-type']) {
      if (attrs[name] !== undefined && attrs[name] !== false && attrs[name] !== null) node.setAttribute('data-' + name, String(attrs[name]))
    }
    if ((tag === 'wx-input' || tag === 'wx-textarea') && !node.textContent) {
      const value = attrs.value != null && attrs.value !== '' ? attrs.value : ''
      node.textContent = value || attrs.placeholder || ''
      if (!value) node.setAttribute('data-placeholder', '1')
    }
    if (tag === 'wx-picker' || tag === 'wx-block') { /* keep its children as they are */ }
  }
}

const BASE = `
html, body { margin: 0; padding: 0; }
body { width: ${WIDTH}px; height: 812px; overflow: hidden; font-family: "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Droid Sans Fallback", sans-serif; -webkit-font-smoothing: antialiased; }
.shot-nav { height: 88px; box-sizing: border-box; padding-top: 44px; display: flex; align-items: center; justify-content: center; font-size: 17px; font-weight: 600; border-bottom: 0.5px solid #e5e5e5; }
.shot-nav__dots { position: absolute; right: 7px; top: 50px; width: 87px; height: 32px; border-radius: 16px; border: 0.5px solid #ddd; box-sizing: border-box; }
.shot-page { position: relative; overflow: hidden; transform: translateZ(0); font-size: 16px; }
.shot-tabbar { position: absolute; left: 0; right: 0; bottom: 0; height: 84px; box-sizing: border-box; padding-bottom: 34px; display: flex; border-top: 0.5px solid #e5e5e5; }
.shot-tab { flex: 1; display: flex; flex-direction: column; align-items: center; justify-content: center; font-size: 10px; }
.shot-tab img { width: 27px; height: 27px; margin-bottom: 2px; }
.shot-home { position: absolute; left: 50%; bottom: 8px; width: 134px; height: 5px; margin-left: -67px; border-radius: 3px; background: #111; }
main, wx-view, wx-scroll-view, wx-swiper, wx-swiper-item, wx-navigator, wx-form, wx-cover-view, wx-movable-area, wx-rich-text, wx-checkbox-group, wx-radio-group, wx-picker, wx-picker-view { display: block; }
wx-text, wx-label { display: inline; white-space: pre-wrap; }
wx-image, wx-cover-image { display: inline-block; width: 320px; height: 240px; overflow: hidden; background: center / cover no-repeat; }
wx-scroll-view { overflow: hidden; }
wx-swiper { height: 150px; overflow: hidden; }
wx-swiper-item { width: 100%; height: 100%; }
wx-swiper-item ~ wx-swiper-item { display: none; }
wx-button { display: block; position: relative; margin: 0 auto; padding: 0 14px; box-sizing: border-box; font-size: 18px; font-weight: 700; text-align: center; line-height: 2.55555556; border-radius: 5px; color: #000; background-color: #f8f8f8; border: 0.5px solid rgba(0,0,0,.2); overflow: hidden; }
wx-button[data-size="mini"] { display: inline-block; line-height: 2.3; font-size: 13px; padding: 0 1.34em; }
wx-button[data-type="primary"] { color: #fff; background-color: #07c160; }
wx-button[data-type="warn"] { color: #fff; background-color: #fa5151; }
wx-button[data-disabled="true"] { opacity: .6; }
wx-button[data-plain="true"] { background: transparent; }
wx-input { display: flex; align-items: center; height: 1.4em; min-height: 1.4em; overflow: hidden; white-space: nowrap; }
wx-textarea { display: block; width: 300px; height: 150px; overflow: hidden; }
wx-input[data-placeholder], wx-textarea[data-placeholder] { color: #999; }
wx-checkbox, wx-radio { display: inline-block; vertical-align: middle; width: 22px; height: 22px; box-sizing: border-box; border: 1px solid #d1d1d1; border-radius: 3px; background: #fff; }
wx-radio { border-radius: 50%; }
wx-checkbox[data-checked="true"], wx-radio[data-checked="true"] { background: #07c160; border-color: #07c160; }
wx-checkbox[data-checked="true"]::after { content: "✓"; display: block; color: #fff; text-align: center; line-height: 20px; font-size: 16px; }
wx-checkbox[data-disabled="true"] { background: #e1e1e1; }
wx-switch { display: inline-block; width: 52px; height: 32px; border-radius: 16px; background: #dfdfdf; }
wx-switch[data-checked="true"] { background: #07c160; }
wx-icon { display: inline-block; width: 20px; height: 20px; border-radius: 50%; background: #07c160; }
wx-progress { display: block; height: 6px; background: #ebebeb; }
wx-map, wx-video, wx-camera, wx-live-player, wx-canvas, wx-web-view { display: block; width: 300px; height: 225px; background: #333; }
`

function shotHtml(comp, route, app) {
  const pageJson = path.join(ROOT, route + '.json')
  const conf = fs.existsSync(pageJson) ? JSON.parse(fs.readFileSync(pageJson, 'utf8')) : {}
  const win = Object.assign({}, app.window || {}, conf)
  const tabs = (app.tabBar && app.tabBar.list) || []
  const tabIndex = tabs.findIndex((t) => t.pagePath === route)
  const navHeight = win.navigationStyle === 'custom' ? 0 : 88
  const tabHeight = tabIndex >= 0 ? 84 : 0
  annotate(comp.dom, route)
  let css = wxss(path.join(ROOT, 'app.wxss'), 'main') + wxss(path.join(ROOT, route + '.wxss'), 'main')
  for (const [tag, file] of Object.entries(components(pageJson))) css += wxss(file + '.wxss', tag)
  // in a mini-program 100vh is the page's window (below the navigation bar, above the tab bar),
  // not the whole screen the browser would take
  const pageHeight = 812 - navHeight - tabHeight
  css = BASE + css.replace(/(-?\d*\.?\d+)vh\b/g, (m, n) => +(parseFloat(n) * pageHeight / 100).toFixed(2) + 'px')
  const navBg = win.navigationBarBackgroundColor || '#ffffff'
  const navFg = win.navigationBarTextStyle === 'white' ? '#fff' : '#000'
  const nav = navHeight ? `<div class="shot-nav" style="background:${navBg};color:${navFg}">${escapeHtml(win.navigationBarTitleText || '')}<div class="shot-nav__dots"></div></div>` : ''
  let tabbar = ''
  if (tabIndex >= 0) {
    const tb = app.tabBar
    tabbar = `<div class="shot-tabbar" style="background:${tb.backgroundColor || '#fff'}">` + tabs.map((t, i) => {
      const icon = i === tabIndex ? t.selectedIconPath : t.iconPath
      const img = icon ? `<img src="${imageUrl('/' + icon, route)}">` : ''
      return `<div class="shot-tab" style="color:${i === tabIndex ? tb.selectedColor : tb.color}">${img}${escapeHtml(t.text)}</div>`
    }).join('') + '</div>'
  }
  const bg = win.backgroundColor || '#fff'
  return `<!doctype html><html><head><meta charset="utf-8"><style>${css}</style></head>
<body style="background:${bg}">${nav}<div class="shot-page" style="height:${pageHeight}px">${comp.dom.outerHTML}</div>${tabbar}<div class="shot-home"></div></body></html>`
}

module.exports = { shotHtml, wxss, selector, rpx, components }
