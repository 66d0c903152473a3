/** @jest-environment node */
// app.json and project.config.json read as WeChat reads them at upload and review. Pages are
// read from app.json (other work adds pages), never from a fixed list.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const read = (p) => fs.readFileSync(path.join(ROOT, p), 'utf8')
const exists = (p) => fs.existsSync(path.join(ROOT, p))
const app = JSON.parse(read('app.json'))
const project = JSON.parse(read('project.config.json'))
const subs = app.subPackages || app.subpackages || []
const rootOf = (s) => s.root.replace(/^\/|\/$/g, '')
const subPages = subs.flatMap((s) => s.pages.map((p) => rootOf(s) + '/' + p))
const allPages = app.pages.concat(subPages)

// every .js file of the shop (not tests, not node_modules)
function jsFiles(dir = ROOT, out = []) {
  for (const name of fs.readdirSync(dir)) {
    if (dir === ROOT && (name === 'node_modules' || name === 'tests')) continue
    const p = path.join(dir, name)
    if (fs.statSync(p).isDirectory()) jsFiles(p, out)
    else if (/\.(js|wxml)$/.test(name)) out.push(p)
  }
  return out
}
const code = jsFiles().map((f) => fs.readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')).join('\n')

test('every page of app.json has its js, json, wxml and wxss', () => {
  const missing = []
  for (const page of allPages) for (const ext of ['.js', '.json', '.wxml', '.wxss']) if (!exists(page + ext)) missing.push(page + ext)
  expect(missing).toEqual([])
  expect(new Set(allPages).size).toBe(allPages.length)
})

test('subpackage roots are distinct, nest in nothing and hold no main-package page', () => {
  const roots = subs.map(rootOf)
  for (const r of roots) {
    expect(exists(r)).toBe(true)
    for (const other of roots) if (other !== r) expect((r + '/').startsWith(other + '/')).toBe(false)
    for (const page of app.pages) expect(page.startsWith(r + '/')).toBe(false)
  }
  const names = subs.map((s) => s.name).filter(Boolean)
  expect(new Set(names).size).toBe(names.length)
})

test('preloadRule keys are pages and preload packages that exist', () => {
  const known = new Set(subs.flatMap((s) => [s.name, s.root, rootOf(s)]).concat(['__APP__']))
  for (const [page, rule] of Object.entries(app.preloadRule || {})) {
    expect(allPages).toContain(page)
    expect(['all', 'wifi']).toContain(rule.network || 'wifi')
    for (const pkg of rule.packages) expect(known.has(pkg)).toBe(true)
    // a page does not preload its own package
    const own = subs.find((s) => page.startsWith(rootOf(s) + '/'))
    if (own) expect(rule.packages).not.toContain(own.name)
  }
})

test('tabBar: 2 to 5 main-package pages, icons (when given) exist as png/jpg under 40 KB', () => {
  const list = app.tabBar.list
  expect(list.length).toBeGreaterThanOrEqual(2)
  expect(list.length).toBeLessThanOrEqual(5)
  for (const item of list) {
    expect(app.pages).toContain(item.pagePath)
    expect(item.text).toBeTruthy()
    // icons come together or not at all
    expect(!!item.iconPath).toBe(!!item.selectedIconPath)
    for (const icon of [item.iconPath, item.selectedIconPath].filter(Boolean)) {
      expect(icon).toMatch(/\.(png|jpe?g)$/)
      expect(exists(icon)).toBe(true)
      expect(fs.statSync(path.join(ROOT, icon)).size).toBeLessThanOrEqual(40 * 1024)
    }
  }
})

// APIs that must be declared in requiredPrivateInfos before the platform lets them run
const PRIVATE_APIS = ['getLocation', 'getFuzzyLocation', 'chooseAddress', 'chooseLocation', 'choosePoi',
  'onLocationChange', 'startLocationUpdate', 'startLocationUpdateBackground']
// scopes whose use needs a permission text in app.json, and the APIs that use them
const SCOPED = { 'scope.userLocation': ['getLocation', 'chooseLocation', 'startLocationUpdate', 'onLocationChange'],
  'scope.userFuzzyLocation': ['getFuzzyLocation'], 'scope.userLocationBackground': ['startLocationUpdateBackground'] }
const used = (api) => new RegExp('wx\\.' + api + '\\(').test(code)

test('requiredPrivateInfos lists every private API the code calls, and only known ones', () => {
  const declared = app.requiredPrivateInfos || []
  const missing = PRIVATE_APIS.filter((api) => used(api) && declared.indexOf(api) < 0)
  expect(missing).toEqual([])
  for (const api of declared) expect(PRIVATE_APIS).toContain(api)
  // WeChat allows one of the two location kinds
  expect(declared.includes('getLocation') && declared.includes('getFuzzyLocation')).toBe(false)
  expect(used('getLocation')).toBe(true) // the nearby stores: the check above is not vacuous
})

test('a permission text, in Chinese, for every scope the code uses', () => {
  const scopes = Object.keys(SCOPED).filter((s) => SCOPED[s].some(used))
    .concat((code.match(/scope\.user\w+/g) || []).filter((s) => SCOPED[s]))
  expect(scopes).toContain('scope.userLocation')
  for (const s of new Set(scopes)) {
    const desc = app.permission && app.permission[s] && app.permission[s].desc
    expect(desc).toMatch(/[\u4e00-\u9fa5]/)
    expect(desc.length).toBeLessThanOrEqual(30) // WeChat cuts the text at 30 characters
  }
})

test('sitemap and the privacy check are set', () => {
  expect(exists(app.sitemapLocation)).toBe(true)
  expect(app.__usePrivacyCheck__).toBe(true)
})

test('project.config.json: the root, what the upload leaves out, and what the README must say', () => {
  expect(['./', '', '.']).toContain(project.miniprogramRoot)
  expect(project.compileType).toBe('miniprogram')
  const ignored = project.packOptions.ignore.map((i) => i.type + ':' + i.value)
  expect(ignored).toEqual(expect.arrayContaining(['folder:tests', 'folder:node_modules', 'file:package.json', 'file:package-lock.json']))
  const readme = fs.readFileSync(path.join(ROOT, '..', 'README.md'), 'utf8')
  // DevTools skips the domain check with urlCheck false; phones never do: the README says so
  if (project.setting.urlCheck === false) expect(readme).toMatch(/urlCheck/)
  // the tourist appid cannot upload or pay: the README says to put the shop's own
  if (project.appid === 'touristappid') expect(readme).toMatch(/touristappid[^\n]*(replace|your own|AppID)/i)
})
