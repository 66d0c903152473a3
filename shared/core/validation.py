"""Invalid input, said in Chinese per field: what a shopper reads when a form is refused.

pydantic names each problem with a stable type (``missing``, ``string_too_short``, ...) and
its bounds in ``ctx``; the English ``msg`` is kept for developers, and each field also gets a
Chinese sentence that names the field, so the mini-program can show something better than
"输入有误" for every mistake.
"""
from __future__ import annotations

from typing import Any

from shared.core.errors import ShopError

# pydantic error type -> Chinese, formatted with the error's ctx (its bounds, its choices)
ZH_BY_TYPE: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "不支持这个字段",
    "string_type": "应为文字",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "literal_error": "只能是 {expected}",
    "enum": "只能是 {expected}",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "date_type": "应为日期，如 2030-01-31",
    "date_parsing": "应为日期，如 2030-01-31",
    "date_from_datetime_parsing": "应为日期，如 2030-01-31",
    "datetime_type": "应为时间，如 2030-01-31T08:00:00Z",
    "datetime_parsing": "应为时间，如 2030-01-31T08:00:00Z",
    "datetime_from_date_parsing": "应为时间，如 2030-01-31T08:00:00Z",
    "timezone_aware": "时间须带时区，如 2030-01-31T08:00:00+08:00",
    "url_parsing": "应为网址",
    "url_scheme": "网址协议不支持",
    "value_error": "取值不正确",
    "assertion_error": "取值不正确",
}
# the shop's own checks that pydantic cannot make (they raise VALIDATION_ERROR themselves)
ZH_BY_TYPE.update({
    "null": "不能为空",
    "empty_cart": "购物车里没有选中的商品",
    "not_in_order": "不在这个订单里",
    "not_in_campaign": "不在这个活动里",
    "foreign_sku": "属于另一个商品",
    "above_price": "不能高于商品原价",
    "not_a_discount": "须低于商品原价",
    "deal_store": "这家门店没有这个优惠",
    "deal_sku_missing": "订单里没有优惠的商品",
})
FALLBACK_ZH = "输入有误"
# the whole request (a model validator, or a body that is not an object)
BODY_LABEL = "请求内容"
# a shopper reads the top-level message: the first few fields are enough to fix the form
MAX_FIELDS_IN_MESSAGE = 3


def field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def zh_message(error: dict[str, Any]) -> str:
    """One pydantic error in Chinese, naming its field: ``quantity：不能小于 1``."""
    template = ZH_BY_TYPE.get(error["type"], FALLBACK_ZH)
    try:
        text = template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):
        text = FALLBACK_ZH
    loc = error.get("loc") or ()
    return f"{field_path(loc) if loc else BODY_LABEL}：{text}"


def with_chinese_fields(error: ShopError) -> ShopError:
    """A VALIDATION_ERROR a domain check raised: each field gets its Chinese message too."""
    fields = error.details.get("fields") if error.code == "VALIDATION_ERROR" else None
    if not isinstance(fields, list) or not fields:
        return error
    for field in fields:
        if isinstance(field, dict) and "message_zh" not in field:
            loc = tuple(str(field.get("field") or "").split(".")) if field.get("field") else ()
            field["message_zh"] = zh_message({"type": field.get("type", ""), "loc": loc})
    if error.message_zh == ShopError("VALIDATION_ERROR").message_zh:
        error.message_zh = "；".join(f["message_zh"] for f in fields[:MAX_FIELDS_IN_MESSAGE]
                                    if isinstance(f, dict))
    return error


def validation_error(exc: Any) -> ShopError:
    """A pydantic ValidationError as the shop's VALIDATION_ERROR, one entry per field."""
    fields = [{"field": field_path(tuple(err["loc"])), "message": err["msg"],
               "message_zh": zh_message(err), "type": err["type"]} for err in exc.errors()]
    shown = [f["message_zh"] for f in fields[:MAX_FIELDS_IN_MESSAGE]]
    if len(fields) > MAX_FIELDS_IN_MESSAGE:
        shown.append(f"等 {len(fields)} 处")
    return ShopError("VALIDATION_ERROR", "invalid input: " + ", ".join(f["field"] for f in fields),
                     {"fields": fields}, message_zh="；".join(shown) or None)
