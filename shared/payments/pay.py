"""Taking the money: prepay for wx.requestPayment, the pay notify, and reconciliation.

An order becomes paid only from a WeChat Pay transaction whose signature verified (notify) or
that WeChat Pay itself reported (query), whose appid, mchid and amount match the order, and
only by the conditional ``pending_payment -> paid`` update, so it happens exactly once.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.core.common import Input
from shared.core.context import Context
from shared.core.errors import NotifyRejected, ShopError, not_found
from shared.core.log import get_logger, log_event
from shared.orders import lifecycle
from shared.payments.notify import accept_notify, pay_client

if TYPE_CHECKING:
    from shared.wechat.pay import WxPayClient

logger = get_logger("shop.payments")

PREPAY_VALIDITY = timedelta(hours=2)   # WeChat Pay's prepay_id lives two hours
PREPAY_MARGIN = timedelta(seconds=60)


class PayOrderInput(Input):
    order_id: str = Field(min_length=1, max_length=64)


def _client(ctx: Context) -> WxPayClient:
    return pay_client(ctx.settings)


def _owned_unpaid(ctx: Context, order_id: str) -> dict[str, Any]:
    order = ctx.db.orders.find_one({"_id": order_id, "user_id": ctx.user_id,
                                    "status": {"$ne": "reserving"}})
    if order is None:
        raise not_found("order")
    if order["status"] != "pending_payment":
        raise ShopError("INVALID_STATE", f"the order is {order['status']}, it cannot be paid",
                        {"status": order["status"]})
    if order["pay_deadline"] <= ctx.now:
        raise ShopError("INVALID_STATE", "the time to pay this order has passed",
                        {"status": "expired"})
    return order


def _description(order: dict[str, Any]) -> str:
    first = order["items"][0]["title"]
    return first if len(order["items"]) == 1 else f"{first} 等{len(order['items'])}件商品"


def _prepay_id(ctx: Context, order: dict[str, Any]) -> str:
    """The order's open prepay id, asking WeChat Pay for one when there is none still valid."""
    from shared.wechat.pay import WxPayError, as_shop_error
    payment = order.get("payment") or {}
    if payment.get("prepay_id") and payment["prepay_expires_at"] > ctx.now + PREPAY_MARGIN:
        return payment["prepay_id"]
    user = ctx.db.users.find_one({"_id": order["user_id"]}, {"openid": 1})
    if user is None:
        raise not_found("user")
    try:
        prepay_id = _client(ctx).jsapi_prepay(
            out_trade_no=order["_id"], description=_description(order), total=order["total"],
            openid=user["openid"], time_expire=order["pay_deadline"])
    except WxPayError as exc:
        if exc.code == "ORDERPAID":
            # paid already and the notify has not come: take the payment in now
            _take_in_quietly(ctx, order)
            raise ShopError("INVALID_STATE", "the order is already paid",
                            {"status": "paid"}) from None
        raise as_shop_error(exc) from None
    expires = min(ctx.now + PREPAY_VALIDITY, order["pay_deadline"])
    ctx.db.orders.update_one({"_id": order["_id"], "status": "pending_payment"},
                             {"$set": {"payment.prepay_id": prepay_id,
                                       "payment.prepay_expires_at": expires,
                                       "payment.out_trade_no": order["_id"]}})
    return prepay_id


def pay_order(ctx: Context, req: PayOrderInput) -> dict[str, Any]:
    """The parameters of wx.requestPayment for the caller's unpaid order."""
    from shared.wechat.pay import pay_sign_params
    order = _owned_unpaid(ctx, req.order_id)
    return pay_sign_params(_client(ctx).config, _prepay_id(ctx, order))


def sandbox_pay(ctx: Context, req: PayOrderInput) -> dict[str, Any]:
    """Dev only: the sandbox 'pays' the order and posts a genuine notify to /pay/notify."""
    from shared.wechat.pay_sandbox import get_sandbox
    if not ctx.settings.uses_pay_sandbox:
        raise ShopError("FORBIDDEN", "sandbox_pay needs the WeChat Pay sandbox (WXPAY_MCHID unset)")
    order = _owned_unpaid(ctx, req.order_id)
    _prepay_id(ctx, order)  # through pay_client, which gave the sandbox its way to the shop
    delivery = get_sandbox().confirm_payment(order["_id"])
    paid = ctx.db.orders.find_one({"_id": order["_id"]})
    return {"notify_status": delivery["status"], "order": lifecycle.order_view(paid)}


# ---- applying a transaction (notify and reconcile share this) ------------------------------

def _payment_fields(transaction: dict[str, Any], now: datetime) -> dict[str, Any]:
    amount = transaction.get("amount") or {}
    return {"payment.transaction_id": transaction.get("transaction_id"),
            "payment.payer_openid": (transaction.get("payer") or {}).get("openid"),
            "payment.success_time": transaction.get("success_time"),
            "payment.payer_total": amount.get("payer_total", amount.get("total")),
            "payment.trade_type": transaction.get("trade_type"),
            "payment.bank_type": transaction.get("bank_type"),
            "payment.recorded_at": now}


def apply_transaction(db: Any, config: Any, transaction: dict[str, Any], now: datetime,
                      source: str) -> str:
    """Make the shop agree with a successful WeChat Pay transaction; safe to repeat.

    Returns what happened: ``paid``, ``already_paid`` or ``refunding`` (paid after cancel).
    Raises NotifyRejected when the transaction does not belong to this shop's order.
    """
    if transaction.get("trade_state") != "SUCCESS":
        raise NotifyRejected("mismatch", "trade_state is not SUCCESS")
    if transaction.get("appid") != config.appid or transaction.get("mchid") != config.mchid:
        raise NotifyRejected("mismatch", "appid or mchid does not match")
    order_id = str(transaction.get("out_trade_no") or "")
    order = db.orders.find_one({"_id": order_id})
    if order is None:
        raise NotifyRejected("unknown", "unknown out_trade_no")
    paid_total = (transaction.get("amount") or {}).get("total")
    if paid_total != order["total"]:
        log_event(logger, "payment amount mismatch", order_id=order_id, paid=paid_total,
                  expected=order["total"], source=source)
        raise NotifyRejected("mismatch", "amount does not match the order")
    paid = lifecycle.settle_paid(db, order_id, now, _payment_fields(transaction, now), order)
    if paid is not None:
        log_event(logger, "order paid", order_id=order_id, source=source)
        return "paid"
    current = db.orders.find_one({"_id": order_id})
    if current["status"] in ("cancelled", "failed"):
        return _paid_after_cancel(db, current, transaction, now, source)
    recorded = (current.get("payment") or {}).get("transaction_id")
    if recorded and recorded != transaction.get("transaction_id"):
        log_event(logger, "second transaction for one order", order_id=order_id, source=source)
    # a notify retried because the instance that took it in died: what the paid transition
    # still owes (units, loyalty, referral, ...) is delivered now, each step once
    lifecycle.deliver_owed(db, order_id)
    return "already_paid"


def _paid_after_cancel(db: Any, order: dict[str, Any], transaction: dict[str, Any],
                       now: datetime, source: str) -> str:
    """The shopper paid an order that had been cancelled: keep the record, refund in full."""
    from shared.payments.refunds import start_refund
    db.orders.update_one({"_id": order["_id"], "payment.transaction_id": {"$exists": False}},
                         {"$set": {**_payment_fields(transaction, now), "paid_after_cancel": True,
                                   "refundable": 0}})
    log_event(logger, "payment for a cancelled order: refunding", order_id=order["_id"],
              source=source)
    start_refund(db, order, amount=order["total"], reason="订单已取消，自动退款",
                 refund_id=f"{order['_id']}-auto", lines=[], restock=False, now=now)
    return "refunding"


def accept_pay_notify(headers: dict[str, str], body: bytes) -> None:
    """POST /pay/notify."""
    accept_notify(headers, body, "pay", lambda event: event == "TRANSACTION.SUCCESS",
                  lambda db, config, transaction, now:
                  apply_transaction(db, config, transaction, now, "notify"))


# ---- closing and reconciling ---------------------------------------------------------------

def _take_in_if_paid(ctx: Context, order: dict[str, Any]) -> bool:
    """Ask WeChat Pay about the order and apply its payment if it was paid."""
    client = _client(ctx)
    transaction = client.query_transaction(order["_id"])
    if transaction.get("trade_state") != "SUCCESS":
        return False
    apply_transaction(ctx.db, client.config, transaction, ctx.now, "query")
    return True


def _take_in_quietly(ctx: Context, order: dict[str, Any]) -> None:
    """The same, when failing only means the reconciler will do it later."""
    from shared.wechat.pay import WxPayError
    try:
        _take_in_if_paid(ctx, order)
    except (WxPayError, NotifyRejected) as exc:
        log_event(logger, "payment not taken in yet", order_id=order["_id"], error=str(exc))


def settle_before_cancel(ctx: Context, order: dict[str, Any]) -> str:
    """Close the order at WeChat Pay before it is cancelled.

    ``closed``: WeChat Pay will take no payment for it (or never heard of it); ``paid``: it
    was paid and the payment has now been applied; ``unknown``: WeChat Pay could not say.
    """
    from shared.wechat.pay import WxPayError
    if not (order.get("payment") or {}).get("prepay_id"):
        return "closed"
    try:
        if _take_in_if_paid(ctx, order):
            return "paid"
        try:
            _client(ctx).close_transaction(order["_id"])
        except WxPayError as exc:
            if exc.code != "ORDERPAID":
                raise
            # the shopper paid between our query and the close: take that payment in
            return "paid" if _take_in_if_paid(ctx, order) else "unknown"
        return "closed"
    except WxPayError as exc:
        if exc.code == "ORDER_NOT_EXIST":
            return "closed"
        log_event(logger, "could not close at WeChat Pay", order_id=order["_id"], code=exc.code)
        return "unknown"
    except NotifyRejected as exc:
        log_event(logger, "WeChat Pay transaction does not match", order_id=order["_id"],
                  reason=exc.message)
        return "unknown"


def _close_quietly(client: Any, out_trade_no: str) -> bool:
    """Close at WeChat Pay; False when it failed (the prepay may still be paid)."""
    from shared.wechat.pay import WxPayError
    try:
        client.close_transaction(out_trade_no)
        return True
    except WxPayError as exc:
        log_event(logger, "close at WeChat Pay failed", order_id=out_trade_no, code=exc.code)
        return exc.code == "ORDER_NOT_EXIST"


def reconcile_payments(ctx: Context) -> dict[str, Any]:
    """Timer pay_reconcile: ask WeChat Pay about orders whose notify may have gone missing."""
    from shared.payments.aftersales import reconcile_after_sales
    from shared.payments.refunds import reconcile_refunds
    from shared.wechat.pay import WxPayError
    db, batch = ctx.db, ctx.settings.TIMER_BATCH_SIZE
    since = ctx.now - timedelta(seconds=ctx.settings.PAY_RECONCILE_AFTER_SECONDS)
    waiting = list(db.orders.find({"status": {"$in": ["pending_payment", "cancelled"]},
                                   "payment.prepay_id": {"$exists": True},
                                   "payment.transaction_id": {"$exists": False},
                                   "payment.settled": {"$ne": True},
                                   "created_at": {"$lte": since}}).limit(batch))
    counts = {"checked": 0, "paid": 0, "refunding": 0, "errors": 0, "repaired": 0}
    client = _client(ctx)
    for order in waiting:
        counts["checked"] += 1
        try:
            transaction = client.query_transaction(order["_id"])
        except WxPayError:
            counts["errors"] += 1
            continue
        if transaction.get("trade_state") == "SUCCESS":
            try:
                outcome = apply_transaction(db, client.config, transaction, ctx.now, "reconcile")
            except NotifyRejected:
                counts["errors"] += 1
                continue
            if outcome in ("paid", "refunding"):
                counts[outcome] += 1
        elif order["status"] == "cancelled" and (transaction.get("trade_state") == "CLOSED"
                                                 or _close_quietly(client, order["_id"])):
            # settled only once WeChat Pay can no longer take a payment for it
            db.orders.update_one({"_id": order["_id"]}, {"$set": {"payment.settled": True}})
    # a crash between "paid" and moving the units: the lines are still locked
    # (by the statuses a paid order can be in, with the index on locked lines: a $nin read
    # every order there is)
    for order in db.orders.find({"items.stock": "locked",
                                 "status": {"$in": lifecycle.PAID_STATUSES}}).limit(batch):
        counts["repaired"] += 1 if lifecycle.move_lines(db, order, "sold") else 0
    counts.update(reconcile_refunds(ctx))
    counts.update(reconcile_after_sales(ctx))
    return counts
