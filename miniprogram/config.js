// The one place that says how the mini-program reaches the shop backend.
// mode "gateway": wx.request POST <gatewayBase>/api/<action> (the dev gateway from `make run`,
//                 or an API Gateway URL in production; add it to the request domain whitelist).
// mode "cloud":   wx.cloud.callFunction({name: action}) in the CloudBase environment cloudEnv.
module.exports = {
  mode: 'gateway',
  gatewayBase: 'http://127.0.0.1:8080',
  cloudEnv: 'your-cloud-env-id',
  // gateway dev sandbox: log in with "dev:<name>" codes and show the 沙箱支付 button.
  // Must be false against a production gateway.
  dev: true,
  // bargain campaigns shown on product pages: {product_id: bargain campaign id} (shoppers have no
  // list of bargains; a merchant's merchant_list_bargains tells the ids). Empty hides the entry.
  bargainCampaigns: {},
  // subscribe-message template ids from the WeChat admin console (placeholders: replace them).
  // Each moment asks for at most 3 templates, as wx.requestSubscribeMessage allows.
  subscribeTemplates: {
    order: ['TPL_ORDER_SHIPPED_PLACEHOLDER', 'TPL_ORDER_DELIVERED_PLACEHOLDER'],
    cart: ['TPL_CART_REMINDER_PLACEHOLDER'],
    member: ['TPL_COUPON_EXPIRY_PLACEHOLDER', 'TPL_CAMPAIGN_PLACEHOLDER', 'TPL_BIRTHDAY_PLACEHOLDER'],
    // the live start reminder: the template of LIVE_TEMPLATE_ID on the server
    live: ['TPL_LIVE_START_PLACEHOLDER']
  }
}
