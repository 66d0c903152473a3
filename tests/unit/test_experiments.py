"""A/B tests (shared.insight.experiments): creating experiments, the sticky variant of a user
or a device, the carry-over at login, the window, and the exposures they log; all through the
real dispatcher."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.insight.experiments import assign, forget_experiments
from tests.conftest import Shopper, call, merchant, new_shopper
from tests.helpers import Clock

TWO = [{"name": "grid", "weight": 1}, {"name": "list", "weight": 1}]


def create(key: str = "home_layout", variants: Any = None, **fields: Any) -> Any:
    return merchant("merchant_create_experiment",
                    {"key": key, "variants": variants or TWO, "metric": "order_paid", **fields})


def variant(payload: dict[str, Any], token: Any = None) -> Any:
    return call("get_experiment_variant", {"key": "home_layout", **payload}, token)


def differing_device(user_id: str, key: str = "home_layout") -> str:
    """A device id whose own variant differs from the user's: a carry-over shows."""
    mine = assign(key, user_id, TWO)
    return next(f"device-{n:06d}" for n in range(1000)
                if assign(key, f"device-{n:06d}", TWO) != mine)


def many_shoppers(db: Any, count: int) -> list[Shopper]:
    """``count`` shoppers with real tokens, their users inserted at once (2000 logins one by
    one cost mongomock half a minute: its unique openid index is a scan per insert)."""
    from shared.core.auth import issue_token
    ids = [f"usr_ab{n:05d}" for n in range(count)]
    db.users.drop_index("openid_1")    # made again over the batch: one pass, not one each
    db.users.insert_many([{"_id": i, "openid": f"openid-{i}", "token_version": 0}
                          for i in ids])
    db.users.create_index([("openid", 1)], unique=True)
    return [Shopper(i, issue_token(i), i) for i in ids]


# ---- creating and listing ---------------------------------------------------------------------

def test_a_merchant_creates_an_experiment_and_lists_it() -> None:
    created = create()
    listed = merchant("merchant_list_experiments", {}).data

    assert created.data["key"] == "home_layout" and created.data["status"] == "running"
    assert created.data["variants"] == TWO
    assert [e["key"] for e in listed["items"]] == ["home_layout"] and listed["total"] == 1


def test_a_key_is_created_once_and_the_second_is_a_conflict_in_chinese() -> None:
    create().data
    again = create(variants=[{"name": "a", "weight": 9}, {"name": "b", "weight": 1}])

    assert again.status == 409 and again.code == "CONFLICT"
    assert "已存在" in again.body["error"]["message_zh"]


@pytest.mark.parametrize("payload", [
    {"variants": [{"name": "only", "weight": 1}]},
    {"variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 2}]},
    {"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 1}]},
    {"key": "Home Layout"},
    {"metric": "order paid!"},
    {"variants": [{"name": "a", "weight": -1}, {"name": "b", "weight": 1}]},
    {"key": "home:layout"},
    {"starts_at": "2030-02-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"},
    {"colour": "red"},
])
def test_an_incoherent_experiment_is_refused(payload: dict[str, Any]) -> None:
    body = {"key": "home_layout", "variants": TWO, "metric": "order_paid", **payload}

    answer = merchant("merchant_create_experiment", body)

    assert answer.status == 422 and answer.code == "VALIDATION_ERROR"


def test_shoppers_cannot_create_or_read_experiments() -> None:
    shopper = new_shopper()

    assert shopper.call("merchant_create_experiment", {"key": "x", "variants": TWO,
                                                       "metric": "order_paid"}).status == 403
    assert shopper.call("merchant_experiment_report", {"key": "x"}).status == 403


# ---- assignment -------------------------------------------------------------------------------

def test_fractional_weights_split_alike() -> None:
    created = create(variants=[{"name": "grid", "weight": 0.25}, {"name": "list", "weight": 0.75}])
    halves = [assign("k", f"s{n}", [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}])
              for n in range(10_000)]

    assert created.data["variants"][1] == {"name": "list", "weight": 0.75}
    assert halves.count("a") / len(halves) == pytest.approx(0.5, abs=0.02)
    assert variant({"device_id": "d1"}).data["variant"] == assign(
        "home_layout", "d1", created.data["variants"])


def test_the_hash_split_follows_the_weights() -> None:
    variants = [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]
    seen = [assign("k", f"subject-{n}", variants) for n in range(20_000)]

    assert seen.count("b") / len(seen) == pytest.approx(0.75, abs=0.015)
    assert assign("k", "subject-7", variants) == seen[7]                # pure: sticky
    assert [assign("other", f"subject-{n}", variants) for n in range(200)] != seen[:200]


def test_sticky_assignment_over_2000_users_with_an_srm_check(db: Any) -> None:
    create(variants=[{"name": "grid", "weight": 1}, {"name": "list", "weight": 3}])
    shoppers = many_shoppers(db, 2000)

    first = {s.user_id: variant({}, s.token).data["variant"] for s in shoppers}
    again = {s.user_id: variant({}, s.token).data["variant"] for s in shoppers}
    report = merchant("merchant_experiment_report", {"key": "home_layout"}).data

    assert again == first                                      # sticky, call after call
    assert db.experiment_exposures.count_documents({"key": "home_layout"}) == 2000  # once each
    assert {v["name"]: v["users"] for v in report["variants"]} == {
        "grid": list(first.values()).count("grid"), "list": list(first.values()).count("list")}
    assert report["users"] == 2000
    assert report["srm_p_value"] > 0.001 and report["srm_warning"] is False
    assert 0.70 < list(first.values()).count("list") / 2000 < 0.80


def test_a_broken_split_raises_the_srm_warning(db: Any) -> None:
    create()
    now = db.experiments.find_one({"_id": "home_layout"})["created_at"]
    db.experiment_exposures.insert_many([
        {"_id": f"home_layout:d{n:05d}", "key": "home_layout", "kind": "device",
         "subject": f"d{n:05d}", "device_id": f"d{n:05d}", "user_id": None,
         "variant": "grid" if n < 600 else "list", "exposed_at": now} for n in range(1000)])

    report = merchant("merchant_experiment_report", {"key": "home_layout"}).data

    assert report["srm_p_value"] < 0.001 and report["srm_warning"] is True


def test_a_device_is_sticky_before_login_and_logs_one_exposure(db: Any) -> None:
    create()
    answers = {variant({"device_id": "device-abcdef01"}).data["variant"] for _ in range(3)}

    assert answers == {assign("home_layout", "device-abcdef01", TWO)}
    exposure = db.experiment_exposures.find_one({"_id": "home_layout:device-abcdef01"})
    assert exposure["kind"] == "device" and exposure["user_id"] is None
    assert db.experiment_exposures.count_documents({}) == 1


def test_without_a_token_the_device_id_is_required() -> None:
    create()

    answer = variant({})

    assert answer.status == 422 and answer.body["error"]["details"]["fields"][0]["field"] \
        == "device_id"
    assert "必填" in answer.body["error"]["message_zh"]


def test_the_device_variant_carries_over_to_the_user_at_login(db: Any) -> None:
    create()
    shopper = new_shopper()
    device = differing_device(shopper.user_id)
    before = variant({"device_id": device}).data["variant"]

    after = variant({"device_id": device}, shopper.token).data["variant"]
    later = variant({}, shopper.token).data["variant"]    # another device, or none: still it

    assert before == after == later != assign("home_layout", shopper.user_id, TWO)
    mine = db.experiment_exposures.find_one({"_id": f"home_layout:{shopper.user_id}"})
    assert mine["from_device"] == device and mine["variant"] == before
    assert db.experiment_exposures.find_one(
        {"_id": f"home_layout:{device}"})["user_id"] == shopper.user_id
    report = merchant("merchant_experiment_report", {"key": "home_layout"}).data
    assert report["users"] == 1                            # one person, counted as the user


def test_a_user_already_exposed_keeps_their_variant_on_a_new_device(db: Any) -> None:
    create()
    shopper = new_shopper()
    mine = variant({}, shopper.token).data["variant"]
    device = differing_device(shopper.user_id)
    variant({"device_id": device})

    assert variant({"device_id": device}, shopper.token).data["variant"] == mine
    assert db.experiment_exposures.find_one({"_id": f"home_layout:{device}"})["user_id"] \
        == shopper.user_id
    assert merchant("merchant_experiment_report",
                    {"key": "home_layout"}).data["users"] == 1


def test_a_shared_device_carries_over_to_its_first_user_only() -> None:
    create()
    first, second = new_shopper(), new_shopper()
    device = differing_device(second.user_id)
    device_variant = variant({"device_id": device}).data["variant"]
    variant({"device_id": device}, first.token)

    assert variant({"device_id": device}, second.token).data["variant"] \
        == assign("home_layout", second.user_id, TWO) != device_variant


# ---- the window and unknown keys ------------------------------------------------------------

def test_before_the_window_the_first_variant_and_no_exposure(db: Any, clock: Clock) -> None:
    create(starts_at=(clock.now + timedelta(days=1)).isoformat(),
           variants=[{"name": "list", "weight": 1}, {"name": "grid", "weight": 1000}])

    answer = variant({"device_id": "device-abcdef01"}).data

    assert answer == {"key": "home_layout", "variant": "list"}
    assert db.experiment_exposures.count_documents({}) == 0
    clock.advance(days=2)
    assert variant({"device_id": "device-abcdef01"}).data["variant"] \
        == assign("home_layout", "device-abcdef01",
                  [{"name": "list", "weight": 1}, {"name": "grid", "weight": 1000}])
    assert db.experiment_exposures.count_documents({}) == 1


def test_after_the_window_the_first_variant_and_no_exposure(db: Any, clock: Clock) -> None:
    create(ends_at=(clock.now + timedelta(hours=1)).isoformat())
    shopper = new_shopper()
    clock.advance(hours=2)

    answer = variant({"device_id": "device-abcdef01"}, shopper.token).data

    assert answer == {"key": "home_layout", "variant": "grid"}
    assert db.experiment_exposures.count_documents({}) == 0


def test_an_unknown_key_has_no_variant_and_logs_nothing(db: Any) -> None:
    answer = call("get_experiment_variant", {"key": "nobody_made_this",
                                             "device_id": "device-abcdef01"}).data

    assert answer == {"key": "nobody_made_this", "variant": None}
    assert db.experiment_exposures.count_documents({}) == 0


def test_a_new_experiment_is_seen_at_once_by_the_instance_that_made_it(db: Any) -> None:
    assert variant({"device_id": "device-abcdef01"}).data["variant"] is None  # cached: unknown
    create()

    assert variant({"device_id": "device-abcdef01"}).data["variant"] in ("grid", "list")


def test_other_instances_see_an_experiment_within_the_cache_seconds(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = [1000.0]
    from shared.core import warmcache  # where a warm instance keeps the experiment
    monkeypatch.setattr(warmcache.time, "monotonic", lambda: moment[0])
    assert variant({"device_id": "device-abcdef01"}).data["variant"] is None
    db.experiments.insert_one({"_id": "home_layout", "metric": "order_paid", "variants": TWO,
                               "starts_at": None, "ends_at": None})  # made elsewhere

    assert variant({"device_id": "device-abcdef01"}).data["variant"] is None
    moment[0] += 10.5  # EXPERIMENTS_CACHE_SECONDS, the production default
    assert variant({"device_id": "device-abcdef01"}).data["variant"] in ("grid", "list")
    forget_experiments()


# ---- a death between the writes of a user's first call ---------------------------------------

def test_a_death_after_the_users_exposure_is_finished_by_the_next_call(faulty_db: Any) -> None:
    from tests.faults import die_after_write
    create()
    shopper = new_shopper()
    device = differing_device(shopper.user_id)
    device_variant = variant({"device_id": device}).data["variant"]

    with die_after_write(faulty_db, 1) as fault:       # the user's exposure, not the link
        variant({"device_id": device}, shopper.token)
    assert fault.died
    # even before any retry the report counts the person once (from_device)
    assert merchant("merchant_experiment_report", {"key": "home_layout"}).data["users"] == 1

    assert variant({"device_id": device}, shopper.token).data["variant"] == device_variant
    assert faulty_db.unwrapped.experiment_exposures.find_one(
        {"_id": f"home_layout:{device}"})["user_id"] == shopper.user_id
