"""注销账号: a shopper deletes their account (PIPL's right to erasure).

The person goes; the merchant's books stay. Orders are kept with who they were for removed
(recipient, phone, street address); the user's own data (addresses, cart, subscriptions,
messages not yet sent) is deleted; the user document is unlinked from WeChat and every token
revoked (``shared.accounts.standing``). Each write can be repeated, and the revocation is the
last one, so a call cut short is finished by the shopper calling again.
"""
from __future__ import annotations

from typing import Any

from shared.accounts.standing import erase_personal_data, erase_user
from shared.core.common import NoInput, iso
from shared.core.context import Context, Database

__all__ = ["NoInput", "delete_account", "anonymise_orders"]

ERASED_RECIPIENT = "已注销用户"


def anonymise_orders(db: Database, user_id: str) -> int:
    """Remove the person from the user's orders; what was bought, paid and where (city) stays."""
    done = db.orders.update_many(
        {"user_id": user_id, "address": {"$type": "object"}},
        {"$set": {"address.name": ERASED_RECIPIENT, "address.phone": "", "address.detail": "",
                  "address.district": "", "anonymised": True}})
    return int(done.modified_count)


def _run_erasure_hooks(db: Database, user_id: str) -> None:
    """What areas above this one keep of the user (ERASURE_HOOKS), each repeatable."""
    from importlib import import_module

    from shared.core.actions import ERASURE_HOOKS
    for hook in ERASURE_HOOKS:
        module, _, function = hook.partition(":")
        getattr(import_module(module), function)(db, user_id)


def delete_account(ctx: Context, req: NoInput) -> dict[str, Any]:
    user_id = ctx.shopper_id
    orders = anonymise_orders(ctx.db, user_id)
    erase_personal_data(ctx.db, user_id)
    ctx.db.cart_items.delete_many({"user_id": user_id})
    ctx.db.subscriptions.delete_many({"user_id": user_id})
    ctx.db.outbox.delete_many({"user_id": user_id, "status": "queued"})
    _run_erasure_hooks(ctx.db, user_id)
    erase_user(ctx.db, user_id, ctx.now)
    return {"deleted": True, "orders_anonymised": orders, "deleted_at": iso(ctx.now)}
