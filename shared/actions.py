"""The table of every action and timer: who may call it, its input model, its domain function.

Modules are named, not imported, so that a cold function imports only the domain it serves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Auth = Literal["public", "user", "merchant", "dev"]  # dev: merchant credential, dev/test only


@dataclass(frozen=True)
class Action:
    module: str
    function: str
    input_model: str
    auth: Auth


def _a(module: str, function: str, input_model: str, auth: Auth) -> Action:
    return Action(f"shared.{module}", function, input_model, auth)


ACTIONS: dict[str, Action] = {
    # shoppers: identity
    "login": _a("users", "login", "LoginInput", "public"),
    "get_profile": _a("users", "get_profile", "NoInput", "user"),
    "update_profile": _a("users", "update_profile", "UpdateProfileInput", "user"),
    # catalog
    "list_categories": _a("catalog", "list_categories", "NoInput", "public"),
    "list_products": _a("catalog", "list_products", "ListProductsInput", "public"),
    "get_product": _a("catalog", "get_product", "GetProductInput", "public"),
    # addresses
    "add_address": _a("addresses", "add_address", "AddAddressInput", "user"),
    "list_addresses": _a("addresses", "list_addresses", "NoInput", "user"),
    "update_address": _a("addresses", "update_address", "UpdateAddressInput", "user"),
    "delete_address": _a("addresses", "delete_address", "AddressIdInput", "user"),
    # cart
    "cart_add": _a("cart", "cart_add", "CartAddInput", "user"),
    "cart_update": _a("cart", "cart_update", "CartUpdateInput", "user"),
    "cart_remove": _a("cart", "cart_remove", "CartRemoveInput", "user"),
    "cart_list": _a("cart", "cart_list", "NoInput", "user"),
    # orders
    "place_order": _a("orders", "place_order", "PlaceOrderInput", "user"),
    "get_order": _a("orders", "get_order", "OrderIdInput", "user"),
    "list_orders": _a("orders", "list_orders", "ListOrdersInput", "user"),
    "cancel_order": _a("orders", "cancel_order", "OrderIdInput", "user"),
    "confirm_receipt": _a("orders", "confirm_receipt", "OrderIdInput", "user"),
    # coupons
    "list_coupons": _a("coupons", "list_coupons", "ListCouponsInput", "user"),
    "claim_coupon": _a("coupons", "claim_coupon", "ClaimCouponInput", "user"),
    "list_my_coupons": _a("coupons", "list_my_coupons", "ListMyCouponsInput", "user"),
    # merchant
    "merchant_upsert_category": _a("catalog", "upsert_category", "UpsertCategoryInput", "merchant"),
    "merchant_upsert_product": _a("catalog", "upsert_product", "UpsertProductInput", "merchant"),
    "merchant_list_products": _a("catalog", "merchant_list_products",
                                 "MerchantListProductsInput", "merchant"),
    "merchant_get_product": _a("catalog", "merchant_get_product", "GetProductInput", "merchant"),
    "merchant_set_stock": _a("catalog", "set_stock", "SetStockInput", "merchant"),
    "merchant_list_orders": _a("orders", "merchant_list_orders",
                               "MerchantListOrdersInput", "merchant"),
    "merchant_get_order": _a("orders", "merchant_get_order", "OrderIdInput", "merchant"),
    "merchant_ship_order": _a("orders", "ship_order", "ShipOrderInput", "merchant"),
    "merchant_create_coupon": _a("coupons", "create_coupon", "CreateCouponInput", "merchant"),
    "merchant_list_coupons": _a("coupons", "merchant_list_coupons", "PageInput", "merchant"),
    # dev and test only
    "merchant_mark_paid": _a("orders", "mark_paid", "OrderIdInput", "dev"),
    "dev_run_timer": _a("timers", "run_timer_action", "RunTimerInput", "dev"),
}

# timer name -> (module, function taking the call context)
TIMERS: dict[str, tuple[str, str]] = {
    "order_timeout": ("shared.orders", "cancel_expired_orders"),
}
