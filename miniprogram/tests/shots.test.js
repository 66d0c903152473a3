/** @jest-environment node */
// `make shots` runs (the same jest entry the Makefile calls, on a few pages to keep it short) and
// writes PNGs of the right size that are not blank. Skipped only where there is no Chromium.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { execFileSync } = require('child_process')
const { chromiumPath, allPages } = require('../tools/shots/shoot')
const { readPng, colourCount } = require('../tools/shots/png')

const ROOT = path.join(__dirname, '..')
const PAGES = ['home', 'product', 'cart', 'order-detail']
const chromium = chromiumPath()
const withChromium = chromium ? test : test.skip
if (!chromium) console.warn('shots.test.js skipped: no Chromium (apt-get install -y chromium)')

test('every page of app.json is shot, the main ones under their names', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  const routes = app.pages.concat(...(app.subPackages || []).map((s) => s.pages.map((p) => s.root + '/' + p)))
  const shot = allPages()
  expect(shot.map((p) => p[1]).sort()).toEqual(routes.slice().sort())
  expect(new Set(shot.map((p) => p[0])).size).toBe(shot.length)
  for (const name of ['home', 'category', 'product', 'cart', 'me', 'checkout', 'order-list', 'order-detail', 'team',
    'deals', 'membership', 'coupons', 'live-list', 'trace', 'chat']) expect(shot.map((p) => p[0])).toContain(name)
})

withChromium('make shots renders the pages with the demo shop to 750 x 1624 PNGs that are not blank', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'shots-'))
  execFileSync('npx', ['jest', '-c', 'tools/shots/jest.config.js'], {
    cwd: ROOT, env: Object.assign({}, process.env, { SHOTS_PAGES: PAGES.join(','), SHOTS_DIR: out }), stdio: 'pipe', timeout: 280000
  })
  for (const name of PAGES) {
    const png = readPng(path.join(out, name + '.png'))
    expect([name, png.width, png.height]).toEqual([name, 750, 1624])
    // a real page has text, prices, images: far more than a handful of colours
    expect([name, colourCount(png, 64) >= 32]).toEqual([name, true])
  }
  // the HTML it shot has the page's content: the product page shows a price
  expect(fs.readFileSync(path.join(out, 'product.html'), 'utf8')).toMatch(/¥\d+\.\d\d/)
  fs.rmSync(out, { recursive: true, force: true })
}, 300000)
