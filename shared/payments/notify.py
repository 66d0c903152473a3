"""WeChat Pay notifies: nothing in a body is believed until its signature verifies.

The pay and refund notifies share this: verify, check the event type, decrypt, apply. What is
refused raises ``NotifyRejected`` with a reason; the HTTP adapter answers WeChat Pay's protocol.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from shared.core.config import Settings, get_settings
from shared.core.context import Database
from shared.core.errors import NotifyRejected
from shared.core.log import get_logger, log_event

if TYPE_CHECKING:
    from shared.wechat.pay import PayConfig, WxPayClient

logger = get_logger("shop.payments")

# applies a verified, decrypted resource: (db, config, resource, now)
Apply = Callable[[Database, "PayConfig", dict[str, Any], datetime], Any]


def pay_client(settings: Settings) -> WxPayClient:
    """The WeChat Pay client the shop's payments and refunds use (the one way to get it); in
    dev and tests the sandbox delivers its notifies for the shop's own (``.invalid``) URLs
    into the WSGI app, which production, talking to WeChat Pay itself, never loads."""
    from shared.wechat.pay import get_pay_client
    if not settings.uses_pay_sandbox:
        return get_pay_client(settings)
    from shared.core.http import deliver_in_process
    return get_pay_client(settings, deliver=deliver_in_process)


def accept_notify(headers: dict[str, str], body: bytes, kind: str,
                  is_wanted_event: Callable[[str], bool], apply: Apply) -> None:
    """Verify the signature before anything in the body is believed, then decrypt and apply;
    returns when the notify is accepted (or was applied before)."""
    from shared.core.common import utcnow
    from shared.core.db import get_db
    from shared.wechat.pay import SignatureError, decrypt_resource, verify_signed
    config = pay_client(get_settings()).config
    try:
        verify_signed(config, headers, body)
        envelope = json.loads(body)
        if not is_wanted_event(str(envelope.get("event_type", ""))):
            raise NotifyRejected("mismatch", "unexpected event_type")
        resource = decrypt_resource(config, envelope.get("resource") or {})
        apply(get_db(), config, resource, utcnow())
    except SignatureError as exc:
        log_event(logger, f"{kind} notify refused", reason=str(exc))
        raise NotifyRejected("unverified", f"verification failed: {exc}") from None
    except (ValueError, AttributeError):
        raise NotifyRejected("malformed", "malformed notify") from None
    except NotifyRejected as exc:
        log_event(logger, f"{kind} notify rejected", reason=exc.message)
        raise
