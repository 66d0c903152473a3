// Start the real dev gateway (../scripts/devserver, SHOP_ENV=dev) on a free port and wait for
// /healthz; a wx.request that really goes over HTTP to it.
const { spawn } = require('child_process')
const http = require('http')
const net = require('net')
const path = require('path')

const REPO = path.join(__dirname, '..', '..', '..')

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
    srv.on('error', reject)
  })
}

function httpJson(url, method, body, headers) {
  return new Promise((resolve, reject) => {
    // bytes (an upload's ArrayBuffer, as wx.request sends them) go as they are; the rest as JSON
    const payload = body == null ? null
      : body instanceof ArrayBuffer ? Buffer.from(body)
        : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
    const req = http.request(url, { method, agent: false, headers: Object.assign({}, headers, payload ? { 'Content-Length': payload.length } : {}) }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let data = text
        try { data = JSON.parse(text) } catch (e) { /* wx.request leaves non-JSON as text */ }
        resolve({ statusCode: res.statusCode, data, header: res.headers })
      })
    })
    req.on('error', reject)
    req.setTimeout(30000, () => req.destroy(new Error('timeout')))
    if (payload) req.write(payload)
    req.end()
  })
}

// the wx.request contract: {url, method, data, header} -> {statusCode, data, header}
function realRequest(o) { return httpJson(o.url, o.method || 'GET', o.data, o.header || {}) }

async function startGateway() {
  const port = await freePort()
  const python = path.join(REPO, '.venv', 'bin', 'python')
  const proc = spawn(python, [path.join(REPO, 'scripts', 'devserver'), '--port', String(port)], {
    cwd: REPO, env: Object.assign({}, process.env, { SHOP_ENV: 'dev', PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  proc.stdout.on('data', (d) => { log += d })
  proc.stderr.on('data', (d) => { log += d })
  const base = 'http://127.0.0.1:' + port
  const deadline = Date.now() + 45000
  for (;;) {
    if (proc.exitCode !== null) throw new Error('dev gateway exited: ' + log.slice(-2000))
    try {
      const res = await httpJson(base + '/healthz', 'GET')
      if (res.statusCode === 200) break
    } catch (e) { /* not up yet */ }
    if (Date.now() > deadline) { proc.kill(); throw new Error('dev gateway did not answer /healthz: ' + log.slice(-2000)) }
    await new Promise((r) => setTimeout(r, 200))
  }
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve()
    proc.once('exit', () => resolve())
    proc.kill('SIGTERM')
    const timer = setTimeout(() => { if (proc.exitCode === null) proc.kill('SIGKILL') }, 3000)
    if (timer.unref) timer.unref() // a number under jsdom (make shots)
  })
  return { base, port, stop, log: () => log }
}

// The dev gateway for a test file, the mini-program pointed at it in gateway mode with the dev
// sandbox: started before the file's tests, stopped after. Its fields (base, port, log, stop)
// are there once the tests run.
function useGateway() {
  const config = require('../../config')
  const gateway = {}
  beforeAll(async () => {
    Object.assign(gateway, await startGateway())
    config.mode = 'gateway'
    config.dev = true
    config.gatewayBase = gateway.base
  }, 60000)
  afterAll(async () => { if (gateway.stop) await gateway.stop() })
  return gateway
}

module.exports = { startGateway, realRequest, useGateway }
