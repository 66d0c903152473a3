module.exports.AFTER_SALE_TEXT = {
  pending_review: '待审核', awaiting_return: '待寄回', return_shipped: '已寄回', refunding: '退款中',
  refunded: '已退款', rejected: '已拒绝', cancelled: '已撤销', refund_failed: '退款失败'
}
module.exports.TYPE_TEXT = { refund_only: '仅退款', return_refund: '退货退款' }
