module.exports = require('../../utils/location')
