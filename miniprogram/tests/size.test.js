/** @jest-environment node */
// Package sizes as WeChat counts them (what project.config.json packs): main < 1.5 MB,
// each subpackage < 2 MB (the platform's limit).
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
// tools/ (make shots, drawing the assets) and shots/ (its PNGs) are not packed either
const IGNORED = new Set(['node_modules', 'tests', 'tools', 'shots', 'package.json', 'package-lock.json', 'project.config.json', 'project.private.config.json', '.gitignore'])

function walk(dir, out) {
  for (const name of fs.readdirSync(dir)) {
    if (dir === ROOT && IGNORED.has(name)) continue
    const p = path.join(dir, name)
    const st = fs.statSync(p)
    if (st.isDirectory()) walk(p, out); else out.push({ path: path.relative(ROOT, p), size: st.size })
  }
  return out
}

test('main package under 1.5 MB and each subpackage under 2 MB', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  const roots = app.subPackages.map((s) => s.root.replace(/\/$/, ''))
  const files = walk(ROOT, [])
  const sizes = { main: 0 }
  roots.forEach((r) => { sizes[r] = 0 })
  for (const f of files) {
    const root = roots.find((r) => f.path === r || f.path.startsWith(r + '/'))
    sizes[root || 'main'] += f.size
  }
  const kb = (n) => (n / 1024).toFixed(1) + ' KB'
  console.log('mini-program package sizes:\n' + Object.entries(sizes).map(([k, v]) => '  ' + k.padEnd(18) + kb(v)).join('\n'))
  expect(sizes.main).toBeLessThan(1.5 * 1024 * 1024)
  roots.forEach((r) => expect(sizes[r]).toBeLessThan(2 * 1024 * 1024))
  // every page app.json declares exists (js, json, wxml, wxss)
  const pages = app.pages.concat(...app.subPackages.map((s) => s.pages.map((p) => s.root + '/' + p)))
  for (const p of pages) for (const ext of ['js', 'json', 'wxml', 'wxss']) expect(fs.existsSync(path.join(ROOT, p + '.' + ext))).toBe(true)
  for (const rule of Object.values(app.preloadRule)) rule.packages.forEach((n) => expect(app.subPackages.map((s) => s.name)).toContain(n))
})
