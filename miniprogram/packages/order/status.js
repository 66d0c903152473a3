module.exports.STATUS_TEXT = {
  pending_payment: '待付款', paid: '待发货', shipped: '待收货', completed: '已完成',
  cancelled: '已取消', refunding: '退款中', refunded: '已退款'
}
