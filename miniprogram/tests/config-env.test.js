/** @jest-environment node */
// config.js by envVersion: develop keeps the dev gateway and sandbox, trial and release never
// carry a dev value, an unknown version or a throwing runtime gets release (the safe side), and
// placeholders (template ids, the example host) are reported by config.check() at launch.
const path = require('path')
const { createWx } = require('./helpers/wx')

const CONFIG = path.join(__dirname, '..', 'config.js')

// load config.js afresh, as the app does at start, under a given runtime
function loadUnder(wxValue) {
  const saved = global.wx
  global.wx = wxValue
  try {
    let cfg
    jest.isolateModules(() => { cfg = require(CONFIG) })
    return cfg
  } finally { global.wx = saved }
}

const DEV_VALUES = /http:\/\/|127\.0\.0\.1|localhost/

function devValues(cfg) {
  const found = []
  if (cfg.dev) found.push('dev: true')
  if (cfg.mode === 'gateway' && DEV_VALUES.test(cfg.gatewayBase)) found.push('gatewayBase ' + cfg.gatewayBase)
  if (cfg.mode === 'gateway' && !/^https:\/\//.test(cfg.gatewayBase)) found.push('gatewayBase not https')
  return found
}

test('develop keeps the dev gateway and the sandbox', () => {
  const cfg = loadUnder(createWx({ envVersion: 'develop' }))
  expect(cfg.envVersion).toBe('develop')
  expect(cfg.gatewayBase).toBe('http://127.0.0.1:8080')
  expect(cfg.dev).toBe(true)
})

test.each(['trial', 'release'])('%s has no dev value: dev false, an https gateway', (env) => {
  const cfg = loadUnder(createWx({ envVersion: env }))
  expect(cfg.envVersion).toBe(env)
  expect(devValues(cfg)).toEqual([])
  expect(cfg.dev).toBe(false)
})

test('an unknown version, no wx or a throwing getAccountInfoSync gets release', () => {
  expect(loadUnder(createWx({ envVersion: 'gray' })).envVersion).toBe('release')
  expect(loadUnder(undefined).envVersion).toBe('release')
  expect(loadUnder({ getAccountInfoSync: () => { throw new Error('old base library') } }).envVersion).toBe('release')
  expect(devValues(loadUnder(undefined))).toEqual([])
})

test('the exported shape stays what the rest of the code reads', () => {
  const cfg = loadUnder(createWx({ envVersion: 'release' }))
  for (const key of ['mode', 'gatewayBase', 'cloudEnv', 'dev', 'subscribeTemplates', 'bargainCampaigns']) expect(cfg).toHaveProperty(key)
  for (const ids of Object.values(cfg.subscribeTemplates)) expect(ids.length).toBeLessThanOrEqual(3)
  // every version shares one set of template ids
  expect(cfg.forEnv('develop').subscribeTemplates).toEqual(cfg.subscribeTemplates)
})

test('check() names what must be replaced before release: placeholder templates and the example host', () => {
  const cfg = loadUnder(createWx({ envVersion: 'release' }))
  const problems = cfg.check(cfg)
  // THESE MUST BE REPLACED before uploading a release: the template ids of the WeChat admin
  // console (config.js SUBSCRIBE_TEMPLATES) and the shop's own HTTPS host (PRODUCTION_GATEWAY)
  expect(problems.join('\n')).toMatch(/subscribe templates of "order" are placeholders, replace them/)
  expect(problems.join('\n')).toMatch(/gatewayBase is a placeholder/)
  // a fully configured release has nothing to report
  const real = Object.assign(cfg.forEnv('release'), { gatewayBase: 'https://api.myshop.cn' })
  for (const k of Object.keys(real.subscribeTemplates)) real.subscribeTemplates[k] = ['AbCdEf' + k]
  expect(cfg.check(real)).toEqual([])
  expect(cfg.check(Object.assign(cfg.forEnv('release'), { gatewayBase: 'http://api.myshop.cn', subscribeTemplates: {} }))[0]).toMatch(/not https/)
  expect(cfg.check(Object.assign(cfg.forEnv('release'), { dev: true, gatewayBase: 'https://api.myshop.cn', subscribeTemplates: {} }))).toEqual(['dev sandbox is on outside develop'])
})

test('a release launch logs what must be replaced and installs the privacy listener', () => {
  const wx = createWx({ envVersion: 'release', request: () => ({ statusCode: 503, data: {} }) })
  const saved = { wx: global.wx, App: global.App, Page: global.Page }
  const error = jest.spyOn(console, 'error').mockImplementation(() => {})
  let appDef = null
  try {
    global.wx = wx
    global.App = (def) => { appDef = def }
    jest.isolateModules(() => { require(path.join(__dirname, '..', 'app.js')) })
    appDef.onLaunch.call(Object.assign({}, appDef, { globalData: { shareOpens: {} } }), {})
    expect(error.mock.calls.map((c) => c[0]).join('\n')).toMatch(/\[config release\] replace before release[\s\S]*TPL_ORDER_SHIPPED_PLACEHOLDER/)
    expect(wx.named('onNeedPrivacyAuthorization').length).toBe(1)
  } finally {
    error.mockRestore()
    Object.assign(global, saved)
  }
})

test('a release runtime refuses the http gateway of develop (the stricter double)', () => {
  const wx = createWx({ envVersion: 'release', request: () => ({ statusCode: 200, data: {} }) })
  const fail = jest.fn()
  wx.request({ url: 'http://127.0.0.1:8080/api/x', fail })
  wx.uploadFile({ url: 'http://cdn.example.com/u', fail })
  wx.downloadFile({ url: 'http://cdn.example.com/d.png', fail })
  expect(fail.mock.calls.map((c) => c[0].errMsg)).toEqual([
    'request:fail url not in domain list', 'uploadFile:fail url not in domain list', 'downloadFile:fail url not in domain list'])
})
