"""The table of every action and timer: who may call it, its input model, its domain function.

Modules are named, not imported, so that a cold function imports only the domain it serves.
"""
from __future__ import annotations

from typing import Literal

from shared.core.records import record

# dev: merchant credential, dev/test only; dev_user: a shopper's token, dev/test only;
# user_optional: anyone, and the caller is resolved (ctx.user_id) when a token or a trusted
# CloudBase identity comes with the call (a bad token is still refused); user_or_merchant: a
# shopper (resolved as for user) or the merchant credential (ctx.is_merchant, no user)
Auth = Literal["public", "user", "user_optional", "merchant", "dev", "dev_user",
               "user_or_merchant"]


@record(frozen=True)
class Action:
    module: str
    function: str
    input_model: str
    auth: Auth


def _a(module: str, function: str, input_model: str, auth: Auth) -> Action:
    return Action(f"shared.{module}", function, input_model, auth)


ACTIONS: dict[str, Action] = {
    # shoppers: identity
    "login": _a("accounts.users", "login", "LoginInput", "public"),
    "get_profile": _a("accounts.users", "get_profile", "NoInput", "user"),
    "update_profile": _a("accounts.users", "update_profile", "UpdateProfileInput", "user"),
    # the Me page's shortcuts (issue 21): 待付款/待发货/待收货/售后 counts of the caller's own
    "order_counts": _a("payments.counts", "order_counts", "NoInput", "user"),
    "delete_account": _a("orders.erasure", "delete_account", "NoInput", "user"),  # 注销账号
    # catalog
    "list_categories": _a("catalog.products", "list_categories", "NoInput", "public"),
    "list_products": _a("catalog.products", "list_products", "ListProductsInput", "public"),
    "get_product": _a("catalog.products", "get_product", "GetProductInput", "user_optional"),
    # the search page's 热搜 (issue 21): last 7 days' searches, else best sellers' words
    "hot_searches": _a("insight.search", "hot_searches", "HotSearchesInput", "public"),
    # addresses
    "add_address": _a("accounts.addresses", "add_address", "AddAddressInput", "user"),
    "list_addresses": _a("accounts.addresses", "list_addresses", "NoInput", "user"),
    "update_address": _a("accounts.addresses", "update_address", "UpdateAddressInput", "user"),
    "delete_address": _a("accounts.addresses", "delete_address", "AddressIdInput", "user"),
    # cart
    "cart_add": _a("catalog.cart", "cart_add", "CartAddInput", "user"),
    "cart_update": _a("catalog.cart", "cart_update", "CartUpdateInput", "user"),
    "cart_remove": _a("catalog.cart", "cart_remove", "CartRemoveInput", "user"),
    "cart_list": _a("catalog.cart", "cart_list", "NoInput", "user"),
    # orders
    "place_order": _a("checkout.placing", "place_order", "PlaceOrderInput", "user"),
    # the price before paying: place_order's input without request_id, nothing written
    "preview_order": _a("checkout.placing", "preview_order", "PreviewOrderInput", "user"),
    "get_order": _a("orders.lifecycle", "get_order", "OrderIdInput", "user"),
    "list_orders": _a("orders.lifecycle", "list_orders", "ListOrdersInput", "user"),
    "cancel_order": _a("checkout.cancelling", "cancel_order", "OrderIdInput", "user"),
    "confirm_receipt": _a("orders.lifecycle", "confirm_receipt", "OrderIdInput", "user"),
    # payment and after-sales
    "pay_order": _a("payments.pay", "pay_order", "PayOrderInput", "user"),
    "request_after_sale": _a("payments.aftersales", "request_after_sale",
                             "RequestAfterSaleInput", "user"),
    "get_after_sale": _a("payments.aftersales", "get_after_sale", "AfterSaleIdInput", "user"),
    "list_after_sales": _a("payments.aftersales", "list_after_sales",
                           "ListAfterSalesInput", "user"),
    "cancel_after_sale": _a("payments.aftersales", "cancel_after_sale", "AfterSaleIdInput", "user"),
    "submit_return_shipment": _a("payments.aftersales", "submit_return_shipment",
                                 "ReturnShipmentInput", "user"),
    "get_upload_url": _a("storage.uploads", "get_upload_url", "UploadUrlInput",
                         "user_or_merchant"),
    # social selling: group-buy, bargain, friend assist, shares
    "list_group_buys": _a("social.groupbuy", "list_group_buys", "ListGroupBuysInput", "public"),
    # with a token, a team says whether the caller is in it (issue 21: no 参团 on one's own)
    "get_group_buy": _a("social.groupbuy", "get_group_buy", "CampaignIdInput", "user_optional"),
    "start_group_buy": _a("social.groupbuy", "start_group_buy", "StartGroupBuyInput", "user"),
    "join_group_buy": _a("social.groupbuy", "join_group_buy", "JoinGroupBuyInput", "user"),
    "get_team": _a("social.groupbuy", "get_team", "TeamIdInput", "user_optional"),
    "start_bargain": _a("social.bargain", "start_bargain", "StartBargainInput", "user"),
    "help_bargain": _a("social.bargain", "help_bargain", "BargainIdInput", "user"),
    "get_bargain": _a("social.bargain", "get_bargain", "BargainIdInput", "user"),
    "buy_bargain": _a("social.bargain", "buy_bargain", "BuyBargainInput", "user"),
    "start_assist": _a("social.assist", "start_assist", "StartAssistInput", "user"),
    "help_assist": _a("social.assist", "help_assist", "AssistIdInput", "user"),
    "get_assist": _a("social.assist", "get_assist", "AssistIdInput", "user"),
    # the running campaigns a shopper can join (issue 21): anyone may look
    "list_bargains": _a("social.running", "list_bargains", "ListRunningInput", "public"),
    "list_assists": _a("social.running", "list_assists", "ListRunningInput", "public"),
    "create_share": _a("social.referral", "create_share", "CreateShareInput", "user"),
    "get_share_code": _a("social.referral", "get_share_code", "ShareIdInput", "user"),
    "track_share_open": _a("social.referral", "track_share_open", "TrackShareOpenInput", "user"),
    # marketing, members and points
    "record_subscription": _a("messaging.outbox", "record_subscription",
                              "RecordSubscriptionInput", "user"),
    "get_membership": _a("loyalty.members", "get_membership", "NoInput", "user"),
    "list_points_ledger": _a("loyalty.members", "list_points_ledger", "PageInput", "user"),
    "sign_in": _a("loyalty.members", "sign_in", "NoInput", "user"),
    # nearby
    "nearby_stores": _a("nearby.stores", "nearby_stores", "NearbyStoresInput", "public"),
    "nearby_deals": _a("nearby.deals", "nearby_deals", "NearbyDealsInput", "public"),
    "set_location_consent": _a("nearby.consent", "set_location_consent",
                               "LocationConsentInput", "user"),
    # recommendation (猜你喜欢, 看了又看, 凑单推荐)
    "recommend_for_user": _a("reco.serving", "recommend_for_user", "RecommendInput",
                             "user_optional"),
    "similar_products": _a("reco.serving", "similar_products", "ProductRecoInput", "public"),
    "bought_together": _a("reco.serving", "bought_together", "ProductRecoInput", "public"),
    # coupons
    "list_coupons": _a("orders.coupons", "list_coupons", "ListCouponsInput", "user"),
    "claim_coupon": _a("orders.coupons", "claim_coupon", "ClaimCouponInput", "user"),
    "list_my_coupons": _a("orders.coupons", "list_my_coupons", "ListMyCouponsInput", "user"),
    # live commerce and community selling (shared.live)
    "list_live_rooms": _a("live.rooms", "list_live_rooms", "ListLiveRoomsInput", "public"),
    "get_live_room": _a("live.rooms", "get_live_room", "LiveRoomIdInput", "user_optional"),
    "subscribe_live_room": _a("live.rooms", "subscribe_live_room", "LiveRoomIdInput", "user"),
    "get_community": _a("live.community", "get_community", "CommunityIdInput", "user_optional"),
    "join_community": _a("live.community", "join_community", "CommunityIdInput", "user"),
    "track_group_share": _a("live.community", "track_group_share", "GroupShareInput", "user"),
    "get_leader_dashboard": _a("live.dashboard", "get_leader_dashboard", "NoInput", "user"),
    "merchant_upsert_live_room": _a("live.rooms", "upsert_live_room", "UpsertLiveRoomInput",
                                    "merchant"),
    "merchant_live_report": _a("live.dashboard", "live_report", "LiveRoomIdInput", "merchant"),
    "merchant_create_community": _a("live.community", "create_community",
                                    "CreateCommunityInput", "merchant"),
    "merchant_set_community_price": _a("live.community", "set_community_price",
                                       "CommunityPriceInput", "merchant"),
    "merchant_list_commissions": _a("live.commission", "merchant_list_commissions",
                                    "ListCommissionsInput", "merchant"),
    "merchant_settle_commissions": _a("live.settlement", "settle_commissions",
                                      "SettleCommissionsInput", "merchant"),
    # merchant
    "merchant_upsert_category": _a("catalog.products", "upsert_category",
                                   "UpsertCategoryInput", "merchant"),
    "merchant_upsert_product": _a("catalog.products", "upsert_product",
                                  "UpsertProductInput", "merchant"),
    "merchant_list_products": _a("catalog.products", "merchant_list_products",
                                 "MerchantListProductsInput", "merchant"),
    "merchant_get_product": _a("catalog.products", "merchant_get_product",
                               "GetProductInput", "merchant"),
    "merchant_set_stock": _a("catalog.products", "set_stock", "SetStockInput", "merchant"),
    "merchant_list_orders": _a("orders.lifecycle", "merchant_list_orders",
                               "MerchantListOrdersInput", "merchant"),
    "merchant_get_order": _a("orders.lifecycle", "merchant_get_order", "OrderIdInput", "merchant"),
    "merchant_ship_order": _a("orders.lifecycle", "ship_order", "ShipOrderInput", "merchant"),
    "merchant_create_coupon": _a("orders.coupons", "create_coupon",
                                 "CreateCouponInput", "merchant"),
    "merchant_list_coupons": _a("orders.coupons", "merchant_list_coupons", "PageInput", "merchant"),
    "merchant_list_after_sales": _a("payments.aftersales", "merchant_list_after_sales",
                                    "MerchantListAfterSalesInput", "merchant"),
    "merchant_get_after_sale": _a("payments.aftersales", "merchant_get_after_sale",
                                  "AfterSaleIdInput", "merchant"),
    "merchant_review_after_sale": _a("payments.aftersales", "review_after_sale",
                                     "ReviewAfterSaleInput", "merchant"),
    "merchant_confirm_return_received": _a("payments.aftersales", "confirm_return_received",
                                           "AfterSaleIdInput", "merchant"),
    "merchant_create_group_buy": _a("social.groupbuy", "create_group_buy",
                                    "CreateGroupBuyInput", "merchant"),
    "merchant_list_group_buys": _a("social.groupbuy", "merchant_list_group_buys",
                                   "ListGroupBuysInput", "merchant"),
    "merchant_end_group_buy": _a("social.groupbuy", "end_group_buy", "CampaignIdInput", "merchant"),
    "merchant_create_bargain": _a("social.bargain", "create_bargain",
                                  "CreateBargainInput", "merchant"),
    "merchant_list_bargains": _a("social.bargain", "merchant_list_bargains",
                                 "ListCampaignsInput", "merchant"),
    "merchant_create_assist": _a("social.assist", "create_assist", "CreateAssistInput", "merchant"),
    "merchant_list_assists": _a("social.assist", "merchant_list_assists",
                                "ListCampaignsInput", "merchant"),
    "merchant_set_referral_reward": _a("social.referral", "set_referral_reward",
                                       "ReferralRewardInput", "merchant"),
    "merchant_fission_report": _a("social.referral", "fission_report",
                                  "FissionReportInput", "merchant"),
    "merchant_list_outbox": _a("messaging.outbox", "merchant_list_outbox",
                               "ListOutboxInput", "merchant"),
    "merchant_create_campaign": _a("marketing.campaigns", "create_campaign",
                                   "CreateCampaignInput", "merchant"),
    "merchant_list_campaigns": _a("marketing.campaigns", "merchant_list_campaigns",
                                  "PageInput", "merchant"),
    "merchant_campaign_stats": _a("marketing.campaigns", "campaign_stats",
                                  "CampaignIdInput", "merchant"),
    "merchant_set_member_levels": _a("loyalty.members", "set_member_levels",
                                     "MemberLevelsInput", "merchant"),
    "merchant_list_members": _a("loyalty.members", "merchant_list_members",
                                "ListMembersInput", "merchant"),
    "merchant_adjust_points": _a("loyalty.members", "adjust_points",
                                 "AdjustPointsInput", "merchant"),
    "merchant_upsert_store": _a("nearby.stores", "upsert_store", "UpsertStoreInput", "merchant"),
    "merchant_list_stores": _a("nearby.stores", "merchant_list_stores",
                               "ListStoresInput", "merchant"),
    "merchant_create_deal": _a("nearby.deals", "create_deal", "CreateDealInput", "merchant"),
    "merchant_list_deals": _a("nearby.deals", "merchant_list_deals", "ListDealsInput", "merchant"),
    "merchant_nearby_campaign": _a("nearby.consent", "nearby_campaign",
                                   "NearbyCampaignInput", "merchant"),
    "merchant_verify_pickup": _a("nearby.pickup", "verify_pickup", "VerifyPickupInput", "merchant"),
    "merchant_block_user": _a("accounts.standing", "block_user", "BlockUserInput", "merchant"),
    "merchant_unblock_user": _a("accounts.standing", "unblock_user", "UserIdInput", "merchant"),
    # insight: tracking (埋点), profiles and tags (画像/标签)
    "track_events": _a("insight.tracking", "track_events", "TrackEventsInput", "user_optional"),
    "set_tracking_consent": _a("insight.tracking", "set_tracking_consent",
                               "TrackingConsentInput", "user"),
    "merchant_funnel": _a("insight.funnel", "funnel", "FunnelInput", "merchant"),
    "merchant_get_user_profile": _a("insight.profiles", "get_user_profile", "UserIdInput",
                                    "merchant"),
    "merchant_upsert_tag": _a("insight.tags", "upsert_tag", "UpsertTagInput", "merchant"),
    "merchant_refresh_tags": _a("insight.tags", "refresh_tags", "RefreshTagsInput", "merchant"),
    "merchant_list_tags": _a("insight.tags", "list_tags", "PageInput", "merchant"),
    "merchant_list_tag_users": _a("insight.tags", "list_tag_users", "ListTagUsersInput",
                                  "merchant"),
    # A/B tests (shared.insight): the variant a shopper (or a device before login) sees, the
    # merchant's experiments and their report
    "get_experiment_variant": _a("insight.experiments", "get_experiment_variant",
                                 "GetVariantInput", "user_optional"),
    "merchant_create_experiment": _a("insight.experiments", "create_experiment",
                                     "CreateExperimentInput", "merchant"),
    "merchant_list_experiments": _a("insight.experiments", "merchant_list_experiments",
                                    "ListExperimentsInput", "merchant"),
    "merchant_experiment_report": _a("insight.experiment_report", "experiment_report",
                                     "ExperimentKeyInput", "merchant"),
    # traceability (溯源): batches and their signed, hash-chained events; anyone reads a trace
    "get_trace": _a("trace.batches", "get_trace", "TraceCodeInput", "public"),
    "merchant_create_trace_batch": _a("trace.batches", "create_trace_batch",
                                      "CreateTraceBatchInput", "merchant"),
    "merchant_append_trace_event": _a("trace.batches", "append_trace_event",
                                      "AppendTraceEventInput", "merchant"),
    "merchant_list_trace_batches": _a("trace.batches", "merchant_list_trace_batches",
                                      "ListTraceBatchesInput", "merchant"),
    "merchant_trace_code": _a("trace.batches", "trace_code", "TraceBatchIdInput", "merchant"),
    "merchant_export_trace": _a("trace.batches", "export_trace", "TraceBatchIdInput",
                                "merchant"),
    # AR try-on (AR试穿): a SKU's checked 3D asset, and what trying on sells
    "merchant_upsert_ar_asset": _a("ar.assets", "upsert_ar_asset", "UpsertArAssetInput",
                                   "merchant"),
    "merchant_ar_report": _a("ar.report", "ar_report", "ArReportInput", "merchant"),
    # forecasting and restock advice
    "merchant_restock_advice": _a("forecast.restock", "merchant_restock_advice",
                                  "RestockAdviceInput", "merchant"),
    "merchant_set_lead_time": _a("forecast.restock", "set_lead_time", "SetLeadTimeInput",
                                 "merchant"),
    "merchant_sales_forecast": _a("forecast.training", "merchant_sales_forecast", "NoInput",
                                  "merchant"),
    # the assistant (issue 18): AI shopping guide and customer service
    "assistant_ask": _a("assistant.ask", "assistant_ask", "AskInput", "user_optional"),
    "merchant_upsert_faq": _a("assistant.faq", "upsert_faq", "UpsertFaqInput", "merchant"),
    "merchant_list_faq": _a("assistant.faq", "list_faq", "ListFaqInput", "merchant"),
    "merchant_delete_faq": _a("assistant.faq", "delete_faq", "FaqIdInput", "merchant"),
    "merchant_upsert_synonyms": _a("assistant.faq", "upsert_synonyms",
                                   "UpsertSynonymsInput", "merchant"),
    "merchant_list_conversations": _a("assistant.conversations", "merchant_list_conversations",
                                      "ListConversationsInput", "merchant"),
    "merchant_get_conversation": _a("assistant.conversations", "merchant_get_conversation",
                                    "ConversationIdInput", "merchant"),
    "merchant_reply": _a("assistant.conversations", "merchant_reply", "ReplyInput", "merchant"),
    # dev and test only
    "sandbox_pay": _a("payments.pay", "sandbox_pay", "PayOrderInput", "dev_user"),
    "merchant_mark_paid": _a("orders.lifecycle", "mark_paid", "OrderIdInput", "dev"),
    "dev_run_timer": _a("core.timers", "run_timer_action", "RunTimerInput", "dev"),
    # a public purchase history into the shop (shopctl import online-retail)
    "dev_import_orders": _a("reco.importing", "dev_import_orders", "ImportOrdersInput", "dev"),
}

# timer name -> (module, function taking the call context)
TIMERS: dict[str, tuple[str, str]] = {
    "order_timeout": ("shared.checkout.cancelling", "cancel_expired_orders"),
    "pay_reconcile": ("shared.payments.pay", "reconcile_payments"),
    "group_buy_expire": ("shared.social.groupbuy", "expire_teams"),
    "outbox_send": ("shared.messaging.outbox", "drain_outbox"),
    "cart_reminder": ("shared.marketing.reminders", "cart_reminder"),
    "birthday_coupons": ("shared.marketing.reminders", "birthday_coupons"),
    "campaign_dispatch": ("shared.marketing.campaigns", "dispatch_campaigns"),
    "points_expiry": ("shared.loyalty.members", "expire_points"),
    "reco_train": ("shared.reco.training", "train_now"),   # nightly: the recommendation model
    # live and community (shared.live): plugin rooms from WeChat, start reminders, commission
    # that became available
    "live_sync": ("shared.live.sync", "live_sync"),
    "live_reminders": ("shared.live.rooms", "send_live_reminders"),
    "commission_release": ("shared.live.commission", "release_commissions"),
    # durable events: what a transition owes and its instance died before delivering
    "order_events": ("shared.orders.aftermath", "deliver_due_events"),
    # insight: retention and the daily rollups (watermarks); rule tags, a slice of users a run
    "insight_rollup": ("shared.insight.rollups", "insight_rollup"),
    "tags_refresh": ("shared.insight.tags", "tags_refresh"),
    # each finished day's trace events under one Merkle root, locally and on TBaaS if set
    "trace_anchor": ("shared.trace.anchoring", "anchor_trace"),
    # nightly: revenue and SKU forecasts, restock advice, alerts of SKUs running out
    "forecast_train": ("shared.forecast.training", "train"),
    # the assistant: conversations past their retention; WeChat messages a dead instance left
    "assistant_purge": ("shared.assistant.conversations", "purge_expired"),
    "assistant_inbox": ("shared.assistant.channel", "drain_inbox"),
}

# functions that answer one HTTP route in WeChat Pay's protocol rather than the envelope:
# function name -> (path, module, handler taking (headers, body bytes); raises NotifyRejected)
NOTIFY_ROUTES: dict[str, tuple[str, str, str]] = {
    "pay_notify": ("/pay/notify", "shared.payments.pay", "accept_pay_notify"),
    "refund_notify": ("/pay/refund-notify", "shared.payments.refunds", "accept_refund_notify"),
    # WeChat's customer-service message push (PUSH_ROUTES): URL verification and messages
    "wechat_message": ("/wechat/message", "shared.assistant.channel", "accept_push"),
}
# routes of NOTIFY_ROUTES that speak WeChat's message-push protocol instead: GET (URL
# verification) and POST, the handler taking (method, query dict, body bytes) and returning
# (status, content type, body bytes)
PUSH_ROUTES: frozenset[str] = frozenset({"wechat_message"})

# functions other functions invoke asynchronously (SCF Invoke, InvocationType=Event):
# function name -> (module, handler taking (ctx, event)); the event carries an HMAC signature
INTERNAL_FUNCTIONS: dict[str, tuple[str, str]] = {
    "marketing_push_batch": ("shared.messaging.fanout", "handle_invoke"),
    # a paid order's aftermath (loyalty, referral, campaign stats), run after the answer
    "order_events_deliver": ("shared.orders.aftermath", "handle_invoke"),
}

# who a CloudBase openid is: (module, function taking (db, openid, now) -> user id); named here
# so that the runtime resolves callers without importing the accounts package
IDENTITY_RESOLVER: tuple[str, str] = ("shared.accounts.users", "ensure_user_for_openid")

# what delete_account (shared.orders.erasure) also erases in the areas above it: "module:function"
# taking (db, user_id), each repeatable (a retried deletion runs them again)
ERASERS: tuple[str, ...] = ("shared.insight.tracking:erase_user",        # events, profiles
                           "shared.assistant.conversations:erase_user")  # conversations

# what a community member pays for SKUs: (module, function taking (db, user, skus) -> {sku_id:
# price}); named here so that catalog (below shared.live) shows members their prices
MEMBER_PRICES: tuple[str, str] = ("shared.live.community", "member_price_hook")

# domain events (shared.core.events) -> their subscribers, "module:function" taking (db, event),
# called in this order; each is idempotent per (event, order)
SUBSCRIBERS: dict[str, tuple[str, ...]] = {
    # heard after place_order's answer (owed by its confirming write, delivered like order_paid)
    "order_placed": ("shared.insight.facts:on_order_placed",),   # the fact, one write
    "order_paid": ("shared.social.groupbuy:on_order_paid",
                   "shared.social.referral:on_order_paid",
                   "shared.marketing.campaigns:on_order_paid",    # audiences: last order, spent
                   "shared.loyalty.members:on_order_paid",        # growth, level, points earned
                   "shared.nearby.deals:on_order_paid",          # the deal's unit sold for good
                   "shared.orders.limits:on_order_paid",          # no longer held unpaid
                   "shared.insight.facts:on_order_paid",          # the tracked fact
                   "shared.live.commission:on_order_paid"),       # a leader's commission
    "order_cancelled": ("shared.social.groupbuy:on_order_cancelled",
                        "shared.social.bargain:on_order_cancelled"),
    # an unpaid order gave up what it held (cancelled, or a placement a crash cut short)
    "order_released": ("shared.nearby.deals:on_order_released",       # the deal's daily unit
                       "shared.loyalty.points:on_order_released",   # points spent on it
                       "shared.orders.limits:on_order_released"),   # purchase limits, ceilings
    "order_refunded": ("shared.social.groupbuy:on_order_refunded",
                       "shared.social.referral:on_order_refunded",
                       "shared.insight.facts:on_order_refunded"),
    "refund_succeeded": ("shared.loyalty.members:on_refund_succeeded",
                         "shared.live.commission:on_refund_succeeded",
                         "shared.payments.aftersales:on_refund_finished"),
    "refund_failed": ("shared.payments.aftersales:on_refund_finished",),
}

# subscribers that run inside their transition, before the answer; the others of a durable
# event run after it (shared.orders.aftermath). A group-buy leader's team opens with the
# payment, so that the team can be shared (and joined) the moment the leader has paid.
INLINE_SUBSCRIBERS: frozenset[str] = frozenset({"shared.social.groupbuy:on_order_paid"})
