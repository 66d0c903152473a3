// After-sale photos: the main package's upload (services/upload.js), purpose after_sale.
const upload = require('../../services/upload')

module.exports = {
  uploadImage: (tempFilePath) => upload.uploadImage(tempFilePath, 'after_sale'),
  contentType: upload.contentType,
  UPLOAD_FAILED: upload.UPLOAD_FAILED
}
