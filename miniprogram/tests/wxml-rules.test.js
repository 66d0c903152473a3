/** @jest-environment node */
// Static rules over every .wxml/.wxss of the project, for what only a device shows:
// - <text> holds only text (and nested <text>): anything else inside renders blank on a phone
// - no type="primary" buttons (WeChat green on the shop's red theme): use class="btn-theme"
// - list keys: never wx:key="index" (a reordered list re-renders the wrong rows)
// - every fixed bottom bar and bottom panel pads for the safe area (iPhone home indicator)
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const SKIP = new Set(['node_modules', 'tests'])

function files(ext, dir = ROOT, out = []) {
  for (const name of fs.readdirSync(dir)) {
    if (dir === ROOT && SKIP.has(name)) continue
    const p = path.join(dir, name)
    if (fs.statSync(p).isDirectory()) files(ext, p, out)
    else if (name.endsWith(ext)) out.push(p)
  }
  return out
}
const rel = (p) => path.relative(ROOT, p)
const stripComments = (s) => s.replace(/<!--[\s\S]*?-->/g, '')

// the tags found inside a <text> element (nested <text> allowed, its own content checked too)
function nestedInText(src) {
  const bad = []
  const re = /<\/?([a-zA-Z][\w-]*)\b(?:[^>"']|"[^"]*"|'[^']*')*?(\/?)>/g // quoted '>' (wx:if="{{a > 0}}") stays inside
  let depth = 0
  let m
  while ((m = re.exec(src))) {
    const [tag, name, selfClose] = [m[0], m[1], m[2]]
    const closing = tag.startsWith('</')
    if (name === 'block') continue // compile-time only: renders no element (its content is checked)
    if (name === 'text') {
      if (closing) depth = Math.max(0, depth - 1)
      else if (!selfClose) depth++
      continue
    }
    if (depth > 0 && !closing) bad.push('<' + name + '>')
  }
  return bad
}

test('the checker itself sees a component inside <text>', () => {
  expect(nestedInText('<text>优惠 -<price value="{{1}}" /></text>')).toEqual(['<price>'])
  expect(nestedInText('<text>a <text class="b">b</text></text><view><price /></view>')).toEqual([])
  expect(nestedInText('<text wx:if="{{n > 0}}">-<price value="{{n}}" /></text>')).toEqual(['<price>'])
})

test('<text> holds only text in every WXML', () => {
  const found = []
  for (const f of files('.wxml')) for (const t of nestedInText(stripComments(fs.readFileSync(f, 'utf8')))) found.push(rel(f) + ': ' + t + ' inside <text>')
  expect(found).toEqual([])
})

test('no WeChat-green type="primary" button on the red theme', () => {
  const found = files('.wxml').filter((f) => /type="primary"/.test(fs.readFileSync(f, 'utf8'))).map(rel)
  expect(found).toEqual([])
  expect(fs.readFileSync(path.join(ROOT, 'app.wxss'), 'utf8')).toMatch(/\.btn-theme\s*\{[^}]*background[^}]*#e4393c/)
})

// loops whose items carry no id from the server and only ever grow at one end (a bargain's or
// assist's helpers, the points ledger's entries): index keys are stable there
const ID_LESS_LOOPS = ['{{assist.helps}}', '{{bargain.helps}}', '{{items}}@packages/member/pages/points/points.wxml']

test('no list keyed by index, unless its items have no id and only grow', () => {
  const found = []
  for (const f of files('.wxml')) {
    const src = fs.readFileSync(f, 'utf8')
    for (const m of src.matchAll(/wx:for="([^"]+)"[^>]*wx:key="(?:index|\{\{index\}\})"/g)) {
      if (ID_LESS_LOOPS.indexOf(m[1]) < 0 && ID_LESS_LOOPS.indexOf(m[1] + '@' + rel(f)) < 0) found.push(rel(f) + ' ' + m[1])
    }
  }
  expect(found).toEqual([])
})

test('every fixed bottom bar or panel pads for the safe area', () => {
  const found = []
  for (const f of files('.wxss')) {
    const css = fs.readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
    for (const m of css.matchAll(/([^{}]+)\{([^}]*)\}/g)) {
      const body = m[2]
      const fixedBottom = /position:\s*fixed/.test(body) && /(^|;|\s)bottom:\s*0/.test(body) && !/(^|;|\s)top:\s*0/.test(body) && !/inset:/.test(body)
      if (fixedBottom && !/safe-area-inset-bottom/.test(body)) found.push(rel(f) + ' ' + m[1].trim())
    }
  }
  expect(found).toEqual([])
})
