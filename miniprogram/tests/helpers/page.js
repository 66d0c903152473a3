// Run a page's logic without the WeChat runtime: capture the Page({...}) definition and make
// instances with a setData that merges (dotted paths too), as the framework does.
const path = require('path')

const ROOT = path.join(__dirname, '..', '..')
const defs = {}

function setPath(obj, key, value) {
  const parts = key.replace(/\[(\d+)\]/g, '.$1').split('.')
  let o = obj
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] == null || typeof o[parts[i]] !== 'object') o[parts[i]] = {}
    o = o[parts[i]]
  }
  o[parts[parts.length - 1]] = value
}

function definition(route) {
  if (!defs[route]) {
    let captured = null
    global.Page = (def) => { captured = def }
    require(path.join(ROOT, route + '.js'))
    if (!captured) throw new Error('no Page() in ' + route)
    defs[route] = captured
  }
  return defs[route]
}

function createPage(route) {
  const def = definition(route)
  const page = {}
  for (const [k, v] of Object.entries(def)) if (k !== 'data') page[k] = typeof v === 'function' ? v.bind(page) : v
  page.route = route
  page.data = JSON.parse(JSON.stringify(def.data || {}))
  page.setData = (patch) => { for (const [k, v] of Object.entries(patch)) setPath(page.data, k, v) }
  return page
}

function installApp() {
  const app = { globalData: {} }
  global.getApp = () => app
  return app
}

module.exports = { createPage, installApp, ROOT }
