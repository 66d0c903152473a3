"""Logins at scale (issue 12, section 1): no bucket shared by unrelated shoppers.

Every test here runs on the production defaults of the login limits (conftest raises none of
them): a per-IP ceiling sized for carrier NAT, failures counted per caller and per code."""
from __future__ import annotations

from typing import Any, Optional

import pytest

from tests.conftest import call

NAT_ADDRESS = "203.0.113.24"


@pytest.fixture
def fixed_minute(clock: Any) -> Any:
    """Every call of the test falls in one and the same one-minute window."""
    clock.now = clock.now.replace(second=0, microsecond=0)
    return clock


def _settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    from shared.core.config import reset_settings
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()


def call_function(code: str, openid: Optional[str] = None) -> dict[str, Any]:
    """``login`` as the mini-program's wx.cloud.callFunction reaches the cloud function."""
    from shared.core.runtime import serve
    event: dict[str, Any] = {"code": code}
    if openid:
        event["userInfo"] = {"appId": "wx1234567890abcdef", "openId": openid}
    return serve("login", event, {"request_id": "req-login"})


def http_login(code: str, peer: str = NAT_ADDRESS,
               forwarded_for: Optional[str] = None) -> tuple[int, dict[str, Any]]:
    """``POST /api/login`` through the WSGI app, from the socket address ``peer``."""
    from werkzeug.test import Client

    from shared.core.http import app
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = Client(app).post("/api/login", json={"code": code}, headers=headers,
                                environ_overrides={"REMOTE_ADDR": peer})
    return response.status_code, response.get_json()


def test_the_production_defaults_are_in_force():
    from shared.core.config import get_settings
    settings = get_settings()
    assert settings.LOGIN_PER_IP_PER_MINUTE >= 600
    assert settings.LOGIN_FAILURES_PER_MINUTE < 60
    assert settings.TRUSTED_PROXIES == ""


# ---- a flash crowd --------------------------------------------------------------------------

@pytest.mark.parametrize("trusted", [False, True], ids=["plain", "cloudbase-trusted"])
def test_300_shoppers_log_in_within_one_minute_through_callfunction(db, fixed_minute,
                                                                     monkeypatch, trusted):
    if trusted:
        _settings(monkeypatch, TRUST_CLOUDBASE_IDENTITY="1")
    answers = [call_function(f"dev:crowd{i}", openid=f"oCrowd{i:04d}") for i in range(300)]

    refused = [a["error"] for a in answers if not a["ok"]]
    assert refused == []
    assert len({a["data"]["user"]["id"] for a in answers}) == 300


def test_300_shoppers_behind_one_carrier_nat_address_log_in_within_one_minute(db,
                                                                              fixed_minute):
    answers = [http_login(f"dev:nat{i}") for i in range(300)]

    assert [body for status, body in answers if status != 200] == []
    assert len({body["data"]["user"]["id"] for _, body in answers}) == 300


def test_the_per_ip_ceiling_still_holds_for_one_address(db, fixed_minute, monkeypatch):
    _settings(monkeypatch, LOGIN_PER_IP_PER_MINUTE="5")

    statuses = [http_login(f"dev:ceiling{i}")[0] for i in range(6)]
    other_address = http_login("dev:elsewhere", peer="198.51.100.9")[0]

    assert statuses == [200] * 5 + [429]
    assert other_address == 200


# ---- failed code exchanges ------------------------------------------------------------------

def test_60_bad_codes_from_one_callfunction_caller_leave_the_next_shopper_unaffected(
        db, fixed_minute, monkeypatch):
    _settings(monkeypatch, TRUST_CLOUDBASE_IDENTITY="1")
    bad = [call_function(f"garbage-{i}", openid="oAttacker") for i in range(60)]
    next_shopper = call_function("dev:innocent", openid="oInnocent")

    codes = [a["error"]["code"] for a in bad]
    assert set(codes[:20]) == {"INVALID_CODE"}
    assert set(codes[20:]) == {"RATE_LIMITED"}  # the attacker alone is slowed down
    assert next_shopper["ok"], next_shopper


def test_60_bad_codes_from_anonymous_callers_lock_nobody_out(db, fixed_minute):
    bad = [call_function(f"garbage-{i}") for i in range(60)]
    next_shopper = call_function("dev:innocent")

    assert {a["error"]["code"] for a in bad} == {"INVALID_CODE"}
    assert next_shopper["ok"], next_shopper


def test_60_bad_codes_from_one_ip_leave_a_shopper_at_another_address_unaffected(
        db, fixed_minute):
    bad = [http_login(f"garbage-{i}", peer="198.51.100.66") for i in range(60)]
    next_shopper = http_login("dev:innocent", peer=NAT_ADDRESS)

    assert {status for status, _ in bad[:20]} == {401}
    assert {status for status, _ in bad[20:]} == {429}
    assert next_shopper[0] == 200, next_shopper


def test_one_code_that_keeps_failing_is_refused_whoever_sends_it(db, fixed_minute,
                                                                 monkeypatch):
    _settings(monkeypatch, TRUST_CLOUDBASE_IDENTITY="1")
    answers = [call_function("stolen-code", openid=f"oCaller{i}") for i in range(5)]

    codes = [a["error"]["code"] for a in answers]
    assert codes == ["INVALID_CODE"] * 3 + ["RATE_LIMITED"] * 2


def test_successful_logins_are_not_counted_as_failures(db, fixed_minute, monkeypatch):
    _settings(monkeypatch, TRUST_CLOUDBASE_IDENTITY="1")
    answers = [call_function("dev:regular", openid="oRegular") for _ in range(50)]

    assert all(a["ok"] for a in answers)


# ---- X-Forwarded-For ------------------------------------------------------------------------

def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(db, fixed_minute, monkeypatch):
    _settings(monkeypatch, LOGIN_PER_IP_PER_MINUTE="2")

    # a client rotating the header gains nothing: it is counted at its own address
    statuses = [http_login(f"dev:xff{i}", peer="198.51.100.7",
                           forwarded_for=f"10.9.0.{i}")[0] for i in range(3)]

    assert statuses == [200, 200, 429]
    assert db.rate_limits.count_documents({"_id": {"$regex": "^login:ip:198.51.100.7:"}}) == 1
    assert db.rate_limits.count_documents({"_id": {"$regex": "10.9.0"}}) == 0


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(db, fixed_minute, monkeypatch):
    _settings(monkeypatch, LOGIN_PER_IP_PER_MINUTE="2", TRUSTED_PROXIES="10.0.0.1, 172.16.0.0/12")

    # the client forged a first hop; the proxies appended what they saw
    statuses = [http_login(f"dev:behind{i}", peer="10.0.0.1",
                           forwarded_for=f"6.6.6.6, 198.51.100.{i}, 172.16.5.5")[0]
                for i in range(3)]
    again = [http_login(f"dev:again{i}", peer="10.0.0.1",
                        forwarded_for="1.1.1.1, 198.51.100.0, 172.16.5.5")[0] for i in range(2)]

    assert statuses == [200, 200, 200]  # three clients, one login each
    assert again == [200, 429]          # the first client's third login in the minute
    assert db.rate_limits.count_documents({"_id": {"$regex": "^login:ip:10.0.0.1:"}}) == 0
    assert db.rate_limits.count_documents({"_id": {"$regex": "6.6.6.6|1.1.1.1"}}) == 0


def test_x_forwarded_for_of_only_trusted_hops_falls_back_to_the_peer(db, fixed_minute,
                                                                     monkeypatch):
    _settings(monkeypatch, TRUSTED_PROXIES="10.0.0.0/8")

    status, _ = http_login("dev:inside", peer="10.0.0.1", forwarded_for="10.1.1.1, junk")

    assert status == 200
    assert db.rate_limits.count_documents({"_id": {"$regex": "^login:ip:10.0.0.1:"}}) == 1


def test_trusted_proxies_that_do_not_parse_are_a_config_error(monkeypatch):
    from shared.core.config import ConfigError, get_settings, reset_settings
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, not-an-address")
    reset_settings()
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        get_settings()


def test_an_anonymous_direct_call_still_logs_in(db):
    assert call("login", {"code": "dev:direct"}).ok
