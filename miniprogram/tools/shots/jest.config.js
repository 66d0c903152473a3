// jest runs `make shots` (miniprogram-simulate renders into jsdom): only the runner below
module.exports = {
  rootDir: '../..',
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/tools/shots/run.shots.js'],
  testTimeout: 600000
}
