// Read a PNG (8-bit RGB/RGBA, non-interlaced, as Chromium writes them) with node's zlib alone:
// its size and whether it is blank (every pixel one colour).
const fs = require('fs')
const zlib = require('zlib')

function readPng(file) {
  const buf = fs.readFileSync(file)
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error(file + ' is not a PNG')
  let pos = 8
  let width = 0; let height = 0; let bitDepth = 0; let colorType = 0; let interlace = 0
  const idat = []
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('ascii', pos + 4, pos + 8)
    const data = buf.subarray(pos + 8, pos + 8 + len)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4)
      bitDepth = data[8]; colorType = data[9]; interlace = data[12]
    } else if (type === 'IDAT') idat.push(data)
    else if (type === 'IEND') break
    pos += 12 + len
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[colorType]
  if (bitDepth !== 8 || !channels || interlace) return { width, height, pixels: null }
  const raw = zlib.inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const out = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0
      const b = y > 0 ? out[(y - 1) * stride + x] : 0
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0
      let v = line[x]
      if (filter === 1) v += a
      else if (filter === 2) v += b
      else if (filter === 3) v += (a + b) >> 1
      else if (filter === 4) { const p = a + b - c; const pa = Math.abs(p - a); const pb = Math.abs(p - b); const pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c }
      out[y * stride + x] = v & 0xff
    }
  }
  return { width, height, channels, pixels: out }
}

// how many distinct colours (capped) the image has: 1 means blank
function colourCount(png, cap) {
  const seen = new Set()
  const { pixels, channels } = png
  for (let i = 0; i < pixels.length && seen.size < (cap || 64); i += channels) {
    seen.add(pixels.subarray(i, i + Math.min(channels, 3)).toString('hex'))
  }
  return seen.size
}

module.exports = { readPng, colourCount }
