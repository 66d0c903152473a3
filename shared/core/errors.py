"""The one error type of the shop, its codes, HTTP statuses and bilingual messages."""
from __future__ import annotations

from typing import Any, Literal, Optional

# code -> (HTTP status, Chinese message, English message)
ERRORS: dict[str, tuple[int, str, str]] = {
    "BAD_REQUEST": (400, "请求格式错误", "The request is malformed"),
    "UNAUTHENTICATED": (401, "请先登录", "Please log in"),
    "INVALID_CODE": (401, "登录凭证无效，请重新登录", "The login code is invalid or used"),
    "FORBIDDEN": (403, "没有权限", "Not allowed"),
    "USER_BLOCKED": (403, "账号存在风险，暂时无法登录", "This WeChat account is restricted"),
    "ACCOUNT_BLOCKED": (403, "账号已被商家停用，如有疑问请联系客服",
                        "This account is blocked by the shop"),
    "NOT_FOUND": (404, "内容不存在", "Not found"),
    "UNKNOWN_ACTION": (404, "未知的操作", "Unknown action"),
    "METHOD_NOT_ALLOWED": (405, "请求方法不支持", "Method not allowed"),
    "CONFLICT": (409, "操作冲突，请刷新后重试", "Conflict, please refresh and retry"),
    "INVALID_STATE": (409, "当前状态不允许此操作", "Not allowed in the current state"),
    "OUT_OF_STOCK": (409, "库存不足", "Out of stock"),
    "PRODUCT_UNAVAILABLE": (409, "商品已下架", "The product is not on sale"),
    "COUPON_UNAVAILABLE": (409, "优惠券不可用", "The coupon cannot be used"),
    "COUPON_SOLD_OUT": (409, "优惠券已领完", "The coupon is all claimed"),
    "COUPON_LIMIT_REACHED": (409, "已达领取上限", "You have claimed this coupon the maximum times"),
    "PAYMENT_REFUSED": (409, "微信支付拒绝了此操作", "WeChat Pay refused the operation"),
    "REFUND_EXCEEDS_PAID": (409, "退款金额超过可退金额", "The refund exceeds what can be refunded"),
    "TEAM_FULL": (409, "这个团已经满员了", "The team is full"),
    "TEAM_NOT_OPEN": (409, "团长尚未支付，稍后再试", "The team opens once its leader has paid"),
    "LIMIT_EXCEEDED": (409, "超出数量上限", "Limit exceeded"),
    "PURCHASE_LIMIT": (409, "超出限购数量", "More than the purchase limit of the product"),
    "TOO_MANY_UNPAID": (409, "待支付的订单太多，请先支付或取消",
                        "Too much is held by unpaid orders; pay or cancel them first"),
    "PAYLOAD_TOO_LARGE": (413, "请求内容过大", "The request body is too large"),
    "VALIDATION_ERROR": (422, "输入有误", "Invalid input"),
    "SHARE_DATA_INVALID": (422, "分享信息已失效，请重新打开", "The share data cannot be read"),
    "UPLOAD_INVALID": (422, "图片无效，请重新上传", "The image is not an upload of yours"),
    "AR_ASSET_INVALID": (422, "AR模型文件无效，请上传 glTF 2.0 的 GLB 文件",
                         "The AR asset is not a valid glTF 2.0 binary (GLB)"),
    "UPLOAD_TOO_LARGE": (413, "图片太大，请压缩后重新上传", "The image is larger than allowed"),
    "RATE_LIMITED": (429, "操作太频繁，请稍后再试", "Too many requests, try again later"),
    "INTERNAL": (500, "服务器开小差了，请稍后再试", "Internal error"),
    "CONFIG_ERROR": (500, "服务配置错误", "The service is misconfigured"),
    "UNAVAILABLE": (503, "服务繁忙，请稍后再试", "The service is unavailable, try again later"),
    "PAYMENT_UNAVAILABLE": (502, "微信支付暂时不可用，请稍后再试",
                            "WeChat Pay is unavailable, try again later"),
    "UPSTREAM_ERROR": (502, "微信服务暂时不可用，请稍后再试",
                       "WeChat is unavailable, try again later"),
}


class ShopError(Exception):
    """A business or request error with a stable code; the runtime maps it to the envelope."""

    def __init__(self, code: str, message: Optional[str] = None,
                 details: Optional[dict[str, Any]] = None, *,
                 message_zh: Optional[str] = None) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code}")
        status, zh, en = ERRORS[code]
        self.code = code
        self.status = status
        self.message = message or en
        # a more precise Chinese sentence than the code's: invalid input names its fields, a
        # purchase limit its product and how many
        self.message_zh = message_zh or zh
        self.details = details or {}
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "message_zh": self.message_zh, "details": self.details}


def not_found(what: str) -> ShopError:
    return ShopError("NOT_FOUND", f"{what} not found", {"resource": what})


NotifyReason = Literal["unverified", "malformed", "mismatch", "unknown"]


class NotifyRejected(Exception):
    """A WeChat Pay notify the shop does not accept, and why; WeChat Pay sends it again.

    The HTTP adapter turns the reason into WeChat Pay's protocol (status and FAIL body)."""

    def __init__(self, reason: NotifyReason, message: str) -> None:
        super().__init__(message)
        self.reason: NotifyReason = reason
        self.message = message
