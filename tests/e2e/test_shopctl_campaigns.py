"""shopctl campaigns and outbox, run as a real subprocess against the HTTP gateway.

The scene (shoppers, their tags and subscriptions) is set in-process on the database the
gateway serves; the timers are run with dev_run_timer, as the dev gateway's clock would.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MERCHANT_TOKEN, merchant, new_shopper
from tests.e2e.test_shopctl import SHOPCTL, data_of, shopctl
from tests.helpers import wait_until

TEMPLATE = "tpl_e2e_promo"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def daytime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quiet hours far from now, so the sender sends whatever the clock says."""
    from shared.core.config import reset_settings
    later = datetime.now(timezone(timedelta(hours=8))) + timedelta(hours=6)
    monkeypatch.setenv("QUIET_HOURS", f"{later:%H}:00-{(later + timedelta(hours=1)):%H}:00")
    reset_settings()


def shoppers(db: Any, tags: list[list[str]], subscribed: bool = True) -> list[str]:
    ids = []
    for user_tags in tags:
        shopper = new_shopper()
        if subscribed:
            shopper.call("record_subscription", {"template_ids": [TEMPLATE],
                                                 "results": {TEMPLATE: "accept"}}).data
        db.users.update_one({"_id": shopper.user_id}, {"$set": {"tags": user_tags}})
        ids.append(shopper.user_id)
    return ids


def run_timer(name: str) -> dict[str, Any]:
    return merchant("dev_run_timer", {"name": name}).data["result"]


def create_args(*extra: str) -> list[str]:
    return ["campaigns", "create", "--name", "五一大促", "--template-id", TEMPLATE,
            "--page", "pages/index/index", "--data", '{"thing1": "全场八折"}',
            "--send-at", "now", *extra]


@pytest.mark.parametrize("command", [
    ["campaigns"], ["campaigns", "create"], ["campaigns", "list"], ["campaigns", "stats"],
    ["outbox"], ["outbox", "list"],
])
def test_help_is_there_for_campaigns_and_outbox(command: list[str]) -> None:
    result = shopctl(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: shopctl" in result.stdout


def test_created_campaign_is_scheduled_with_its_audience_and_listed(gateway: str) -> None:
    campaign = data_of(shopctl(
        "--json", "campaigns", "create", "--name", "老客召回", "--template-id", TEMPLATE,
        "--page", "pages/cart/cart", "--data", '{"thing1": "回来看看", "time2": "5月1日"}',
        "--send-at", "2030-05-01 10:00", "--tags", "vip,new", "--tags", "old",
        "--member-levels", "gold", "--last-order-before", "2030-04-01",
        "--min-total-spent", "10000", api=gateway))
    listed = shopctl("campaigns", "list", api=gateway)

    assert campaign["status"] == "scheduled"
    assert campaign["send_at"] == "2030-05-01T02:00:00Z"  # no zone: Beijing time
    assert campaign["audience"] == {
        "tags": ["new", "old", "vip"], "member_levels": ["gold"],
        "last_order_before": "2030-03-31T16:00:00Z", "last_order_after": None,
        "min_total_spent": 10000, "subscribed_template": TEMPLATE}
    assert listed.returncode == 0, listed.stderr
    assert campaign["id"] in listed.stdout and "老客召回" in listed.stdout
    assert "scheduled" in listed.stdout


def test_bad_template_data_is_refused_before_any_call() -> None:
    result = shopctl("campaigns", "create", "--name", "x", "--template-id", TEMPLATE,
                     "--page", "p", "--data", "[1, 2]", "--send-at", "now")

    assert result.returncode == 2
    assert "--data" in result.stderr and "Traceback" not in result.stderr


def test_campaign_is_sent_and_its_stats_print_as_a_table_and_a_png(
        gateway: str, db: Any, tmp_path: Path) -> None:
    vips = shoppers(db, [["vip"], ["vip", "new"], ["vip"]])
    shoppers(db, [["vip"]], subscribed=False)
    shoppers(db, [["new"]])
    coupon = merchant("merchant_create_coupon", {"name": "回归券", "kind": "fixed", "amount": 500,
                                                 "total": 100, "valid_days": 7}).data
    campaign = data_of(shopctl("--json", *create_args("--tags", "vip", "--coupon-id",
                                                      coupon["id"]), api=gateway))

    assert run_timer("campaign_dispatch")["started"] == [campaign["id"]]
    assert run_timer("outbox_send") == {"sent": 3}
    png = tmp_path / "stats.png"
    table = shopctl("campaigns", "stats", campaign["id"], "--png", str(png), api=gateway)
    stats = data_of(shopctl("--json", "campaigns", "stats", campaign["id"], api=gateway))
    outbox = shopctl("outbox", "list", "--purpose", "campaign", "--status", "sent", api=gateway)

    assert table.returncode == 0, table.stderr
    assert "skipped: not_subscribed" in table.stdout and f"wrote {png}" in table.stdout
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000
    assert {k: stats[k] for k in ("status", "audience", "queued", "sent", "failed",
                                  "coupons_granted", "skipped")} == {
        "status": "done", "audience": 4, "queued": 3, "sent": 3, "failed": 0,
        "coupons_granted": 3, "skipped": {"not_subscribed": 1}}
    assert outbox.returncode == 0, outbox.stderr
    assert all(user_id in outbox.stdout for user_id in vips)
    assert "3 messages" in outbox.stdout


def test_outbox_list_filters_by_user_as_json(gateway: str, db: Any) -> None:
    first, second = shoppers(db, [["vip"], ["vip"]])
    data_of(shopctl("--json", *create_args(), api=gateway))
    run_timer("campaign_dispatch")

    listed = data_of(shopctl("--json", "outbox", "list", "--user-id", second, api=gateway))

    assert [(m["user_id"], m["purpose"], m["status"]) for m in listed["items"]] == \
        [(second, "campaign", "queued")]
    assert listed["total"] == 1


def test_stats_wait_polls_until_the_timer_has_sent_the_campaign(
        gateway: str, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.core import http
    shoppers(db, [["vip"], ["vip"]])
    campaign = data_of(shopctl("--json", *create_args(), api=gateway))
    asked: list[str] = []  # the actions the gateway served, in order
    real_dispatch = http.dispatch

    def counted(action: str, *args: Any) -> Any:
        asked.append(action)
        return real_dispatch(action, *args)
    monkeypatch.setattr(http, "dispatch", counted)
    env = {**os.environ, "COLUMNS": "200"}
    waiting = subprocess.Popen(
        [sys.executable, SHOPCTL, "--api", gateway, "--token", MERCHANT_TOKEN, "--json",
         "campaigns", "stats", campaign["id"], "--wait", "--interval", "0.1", "--timeout", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # it asked, found the campaign still scheduled, and asked again: it waits
        wait_until(lambda: asked.count("merchant_campaign_stats") >= 2, timeout=20,
                   message="shopctl never asked for the stats twice")
        assert waiting.poll() is None, waiting.communicate()
        run_timer("campaign_dispatch")
        stdout, stderr = waiting.communicate(timeout=20)
    finally:
        if waiting.poll() is None:
            waiting.kill()

    assert waiting.returncode == 0, stderr
    stats = json.loads(stdout)
    assert (stats["status"], stats["queued"]) == ("done", 2)


def test_stats_wait_gives_up_after_its_timeout_with_exit_1(gateway: str) -> None:
    campaign = data_of(shopctl("--json", *create_args(), api=gateway))

    result = shopctl("campaigns", "stats", campaign["id"], "--wait", "--interval", "0.1",
                     "--timeout", "0.3", api=gateway)

    assert result.returncode == 1
    assert "still scheduled" in result.stderr


def test_stats_of_an_unknown_campaign_exit_1_with_not_found(gateway: str) -> None:
    result = shopctl("campaigns", "stats", "cmp_nope", api=gateway)

    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr
