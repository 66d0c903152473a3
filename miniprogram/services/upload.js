// Image upload (after-sale photos, the shopper's avatar): read the file, get_upload_url with its
// size and purpose -> PUT the bytes to the presigned URL.
// Resolves with the file_url to send to the backend; rejects with a Chinese user message.
const api = require('./api')

const TYPES = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif' }
const UPLOAD_FAILED = '图片上传失败，请重试'

function contentType(path) {
  const m = /\.([a-z0-9]+)$/i.exec(path || '')
  return (m && TYPES[m[1].toLowerCase()]) || 'image/jpeg'
}

function failure(message) {
  const err = new Error(message || UPLOAD_FAILED)
  err.userMessage = err.message
  return err
}

function put(target, bytes) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: target.upload_url,
      method: target.method || 'PUT',
      header: target.headers || {},
      data: bytes,
      success: (res) => (res.statusCode >= 200 && res.statusCode < 300 ? resolve() : reject(failure())),
      fail: () => reject(failure())
    })
  })
}

async function uploadImage(tempFilePath, purpose) {
  let bytes
  try {
    bytes = wx.getFileSystemManager().readFileSync(tempFilePath)
  } catch (e) {
    throw failure('读取图片失败，请重新选择')
  }
  // the size is signed into the URL (storage refuses any other length; too large: 图片太大)
  const input = { content_type: contentType(tempFilePath), purpose: purpose || 'after_sale' }
  if (bytes && bytes.byteLength > 0) input.size = bytes.byteLength
  const target = await api.call('get_upload_url', input)
  await put(target, bytes)
  return target.file_url
}

module.exports = { uploadImage, contentType, UPLOAD_FAILED }
