/** @jest-environment jsdom */
// The `make shots` entry (jest provides the jsdom miniprogram-simulate needs).
const path = require('path')
const { run } = require('./shoot')

test('make shots', async () => {
  const outDir = process.env.SHOTS_DIR || path.join(__dirname, '..', '..', 'shots')
  const shots = await run({ only: process.env.SHOTS_PAGES, outDir })
  for (const s of shots) process.stdout.write('shot ' + path.relative(process.cwd(), s.file) + '  (' + s.route + ')\n')
  expect(shots.length).toBeGreaterThan(0)
})
