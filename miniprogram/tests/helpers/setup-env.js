// Before any module loads: the tests run as WeChat DevTools does, the 'develop' version, so
// config.js picks the dev gateway and sandbox (a test wanting another version uses
// config.forEnv('release') or createWx({ envVersion: 'release' })).
if (typeof global.wx === 'undefined') {
  global.wx = { getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop' } }) }
}
