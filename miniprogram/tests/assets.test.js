/** @jest-environment node */
// The image assets: tab bar icons as WeChat requires them (PNG, 81 x 81, under 40 KB, both
// states), the demo categories' icons and the empty-state illustrations, all real pictures.
const fs = require('fs')
const path = require('path')
const { readPng, colourCount } = require('../tools/shots/png')
const { iconFor, withIcons } = require('../utils/category-icons')

const ROOT = path.join(__dirname, '..')
const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))

test('every tab has a normal and a selected icon: PNG, 81 x 81, under 40 KB, not blank, not the same', () => {
  expect(app.tabBar.list).toHaveLength(4)
  for (const tab of app.tabBar.list) {
    const [normal, selected] = [tab.iconPath, tab.selectedIconPath].map((rel) => {
      expect(rel).toMatch(/\.png$/)
      const file = path.join(ROOT, rel)
      expect(fs.statSync(file).size).toBeLessThan(40 * 1024)
      const png = readPng(file)
      expect([rel, png.width, png.height]).toEqual([rel, 81, 81])
      expect(colourCount(png)).toBeGreaterThan(2)
      return fs.readFileSync(file)
    })
    expect(normal.equals(selected)).toBe(false)
  }
})

test('the demo categories have their own icons; others a generic one; a merchant image wins', () => {
  for (const id of ['cat_fruit', 'cat_snack', 'cat_tea', 'cat_home']) {
    const rel = iconFor({ id })
    expect(rel).toBe('/assets/category/' + id + '.png')
    expect(colourCount(readPng(path.join(ROOT, rel)))).toBeGreaterThan(2)
  }
  expect(iconFor({ id: 'cat_new' })).toBe('/assets/category/other.png')
  expect(fs.existsSync(path.join(ROOT, 'assets/category/other.png'))).toBe(true)
  expect(withIcons([{ id: 'cat_tea', image: 'https://cdn.example.com/tea.png' }])[0].icon).toBe('https://cdn.example.com/tea.png')
})

test('the empty states have illustrations: empty cart, no orders, no results, network error', () => {
  for (const kind of ['cart', 'orders', 'search', 'network', 'box']) {
    const png = readPng(path.join(ROOT, 'assets/empty', kind + '.png'))
    expect([kind, png.width, png.height]).toEqual([kind, 240, 180])
    expect(colourCount(png)).toBeGreaterThan(8)
  }
})
