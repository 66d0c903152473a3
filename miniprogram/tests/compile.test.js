// WeChat's own compilers (wcc for WXML, wcsc for WXSS, shipped for Linux by npm
// miniprogram-compiler) compile every page and component: what DevTools and the phone would
// refuse to build (an unclosed tag, a bad expression, broken WXSS) fails here.
const path = require('path')
const fs = require('fs')
const { wxmlToJs, wxssToJs } = require('miniprogram-compiler')

const ROOT = path.join(__dirname, '..')
const SKIP = new Set(['node_modules', 'tests', 'tools', 'shots'])

// the project's files ending in ext, relative to the root, tooling left out
function filesOf(ext, dir = '') {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = dir ? dir + '/' + entry.name : entry.name
    if (entry.isDirectory()) return SKIP.has(rel) ? [] : filesOf(ext, rel)
    return rel.endsWith(ext) ? [rel] : []
  })
}

test('wcc compiles every WXML file of the mini-program', () => {
  const wxmlList = filesOf('.wxml')
  expect(wxmlList.length).toBeGreaterThan(30)
  const code = wxmlToJs(ROOT, { wxmlList })
  // every page's template is in the compiled bundle, as the phone loads it
  for (const file of wxmlList) expect(code).toContain(`'${file}'`)
})

test('wcsc compiles every WXSS file of the mini-program', () => {
  const wxssList = filesOf('.wxss')
  expect(wxssList.length).toBeGreaterThan(20)
  const code = wxssToJs(ROOT, { wxssList })
  for (const file of wxssList) expect(code).toContain(`'${file}'`)
})

test('a broken template is refused (the compiler is really run)', () => {
  const os = require('os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wcc-'))
  fs.writeFileSync(path.join(dir, 'x.wxml'), '<view><text>{{a}}</text>\n')
  expect(() => wxmlToJs(dir, { wxmlList: ['x.wxml'] })).toThrow(/end tag missing/)
})
