/** @jest-environment node */
const { formatFen, yuan } = require('../utils/money')

test('fen becomes yuan text', () => {
  expect(formatFen(1250)).toBe('¥12.50')
  expect(formatFen(3990)).toBe('¥39.90')
  expect(formatFen(5)).toBe('¥0.05')
  expect(formatFen(0)).toBe('¥0.00')
  expect(formatFen(-120)).toBe('-¥1.20')
  expect(formatFen(undefined)).toBe('¥0.00')
  expect(yuan(123456789)).toBe('1234567.89')
})
