// Money is integer fen everywhere in the shop; this is the only place it becomes yuan text.
function yuan(fen) {
  const n = Math.round(Number(fen))
  if (!isFinite(n)) return '0.00'
  const abs = Math.abs(n)
  const cents = String(abs % 100).padStart(2, '0')
  return (n < 0 ? '-' : '') + Math.floor(abs / 100) + '.' + cents
}

function formatFen(fen) {
  const text = yuan(fen)
  return text.charAt(0) === '-' ? '-¥' + text.slice(1) : '¥' + text
}

module.exports = { yuan, formatFen }
