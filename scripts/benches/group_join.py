"""5. Group-buy join: 100 distinct joiners on 100 threads released together take the open seats
of several forming teams (4 teams of 26: a paid leader and 25 seats each, so that exactly
every joiner fits) through ``dispatch("join_group_buy")`` (the seat's conditional update,
the campaign's checks and the member's order at the group price, stock reserved) vs the
same number of raw conditional seat updates ``update_one({"_id": team, "held": {"$lt":
size}, "seats.user_id": {"$ne": user}}, {"$inc": {"held": 1}, "$push": {"seats": ...}})``
on teams of the same shape, from the same threads. Requests per second; every round checks
that each team holds exactly its size in distinct users, that exactly one pending order
exists per joiner and that stock + locked + sold is conserved, and exits 1 if not."""
from __future__ import annotations

import secrets
from typing import Any, Optional

from benchkit import BenchFailure, median

from .common import make_buyers, merchant_call, race


def group_join_round(db: Any, leaders: list[tuple[str, str]], joiners: list[tuple[str, str]],
                     teams_count: int, round_no: int, ours_first: bool) -> dict[str, Any]:
    from datetime import datetime, timedelta, timezone

    from shared.core.dispatch import Credentials, dispatch
    seats = len(joiners) // teams_count
    size = seats + 1
    now = datetime.now(timezone.utc)
    category_id = merchant_call("merchant_upsert_category", {"name": "拼团"})["id"]
    units = len(joiners) + teams_count
    product = merchant_call("merchant_upsert_product", {
        "title": f"拼团商品 {round_no}", "category_id": category_id,
        "images": ["https://img.test/group.png"],
        "skus": [{"specs": {"规格": "标准"}, "price": 1990, "stock": units}]})
    sku_id = product["skus"][0]["id"]
    campaign = merchant_call("merchant_create_group_buy", {
        "product_id": product["id"], "sku_prices": [{"sku_id": sku_id, "group_price": 990}],
        "team_size": size, "team_ttl_minutes": 60,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat()})
    tag = secrets.token_hex(4)
    team_ids = []
    for n, (token, address_id) in enumerate(leaders[:teams_count]):
        started = dispatch("start_group_buy", {
            "campaign_id": campaign["id"], "sku_id": sku_id, "request_id": f"bench-gbl-{tag}-{n}",
            "address_id": address_id}, Credentials(bearer=token)).envelope
        if not started["ok"]:
            raise BenchFailure(f"start_group_buy failed: {started}")
        merchant_call("merchant_mark_paid", {"order_id": started["data"]["order"]["id"]})
        team_ids.append(started["data"]["team"]["id"])
    raw_ids = [f"team_bench_raw_{round_no}_{n}_{tag}" for n in range(teams_count)]
    db.teams.insert_many([{"_id": raw_id, "campaign_id": "bench", "status": "forming",
                           "team_size": size, "held": 1, "paid": 1,
                           "seats": [{"user_id": f"leader-{n}", "paid": True}]}
                          for n, raw_id in enumerate(raw_ids)])
    result: dict[str, Any] = {}

    def join(index: int) -> tuple[str, Optional[str], Optional[str]]:
        token, address_id = joiners[index]
        outcome = dispatch("join_group_buy", {
            "team_id": team_ids[index % teams_count], "request_id": f"bench-gbj-{tag}-{index}",
            "address_id": address_id}, Credentials(bearer=token))
        env = outcome.envelope
        if env["ok"]:
            return "joined", env["data"]["order"]["id"], None
        return "refused", None, env["error"]["code"]

    def take(index: int) -> bool:
        user = f"raw-user-{index}"
        taken = db.teams.update_one(
            {"_id": raw_ids[index % teams_count], "held": {"$lt": size},
             "seats.user_id": {"$ne": user}},
            {"$inc": {"held": 1}, "$push": {"seats": {"user_id": user, "order_id": None,
                                                      "paid": False}}})
        return taken.modified_count == 1

    def check_teams(ids: list[str], who: str) -> int:
        taken = 0
        for team in db.teams.find({"_id": {"$in": ids}}):
            users = [seat["user_id"] for seat in team["seats"]]
            if team["held"] != size or len(users) != size or len(set(users)) != size:
                raise BenchFailure(f"group join ({who}): team {team['_id']} holds "
                                   f"{team['held']} seats ({len(users)} listed, "
                                   f"{len(set(users))} distinct) for a size of {size}")
            taken += len(users) - 1
        return taken

    def run_ours() -> float:
        elapsed, results = race(len(joiners), len(joiners), join)
        crashed = [r for r in results if isinstance(r, Exception)]
        if crashed:
            raise BenchFailure(f"join_group_buy raised: {crashed[0]!r}")
        refused = sorted({r[2] for r in results if r[0] == "refused"})
        if refused:
            raise BenchFailure(f"group join (ours): joins refused: {refused}")
        orders = [r[1] for r in results]
        result["seats_taken"] = check_teams(team_ids, "ours")
        stored = db.orders.count_documents({"group.campaign_id": campaign["id"],
                                            "group.role": "member",
                                            "status": "pending_payment"})
        if not len(set(orders)) == stored == result["seats_taken"] == len(joiners):
            raise BenchFailure(f"group join (ours): {len(set(orders))} orders answered, "
                               f"{stored} stored, {result['seats_taken']} seats taken for "
                               f"{len(joiners)} joiners")
        result["orders_placed"] = stored
        result["ours_state"] = check_sku_counts(db, sku_id, units, len(joiners), teams_count)
        return elapsed

    def run_raw() -> float:
        elapsed, results = race(len(joiners), len(joiners), take)
        crashed = [r for r in results if isinstance(r, Exception)]
        if crashed:
            raise BenchFailure(f"raw seat update raised: {crashed[0]!r}")
        won = sum(1 for r in results if r is True)
        if won != len(joiners) or check_teams(raw_ids, "baseline") != won:
            raise BenchFailure(f"group join (baseline): {won} seat updates won for "
                               f"{len(joiners)} joiners")
        result["raw_won"] = won
        return elapsed

    if ours_first:
        ours_s, raw_s = run_ours(), run_raw()
    else:
        raw_s, ours_s = run_raw(), run_ours()
    result.update(ours_seconds=ours_s, raw_seconds=raw_s, team_size=size)
    # every round starts from the same data: the embedded database scans whole collections
    db.orders.delete_many({"group.campaign_id": campaign["id"]})
    db.teams.delete_many({"_id": {"$in": team_ids + raw_ids}})
    db.group_buy_quota.delete_many({"_id": {"$regex": f"^{campaign['id']}:"}})
    return result


def check_sku_counts(db: Any, sku_id: str, units: int, locked: int, sold: int) -> dict[str, int]:
    doc = db.skus.find_one({"_id": sku_id}, {"stock": 1, "locked": 1, "sold": 1})
    state = {"stock": doc["stock"], "locked": doc.get("locked", 0), "sold": doc.get("sold", 0)}
    if (state["locked"], state["sold"]) != (locked, sold) or sum(state.values()) != units:
        raise BenchFailure(f"group join: stock={state['stock']} locked={state['locked']} "
                           f"sold={state['sold']}, expected locked={locked} sold={sold} "
                           f"(sum {units})")
    return state


def bench_group_join(db: Any, joiners_count: int, teams_count: int,
                     rounds_count: int) -> dict[str, Any]:
    if joiners_count % teams_count or not 2 <= joiners_count // teams_count + 1 <= 50:
        raise SystemExit("group join: the joiners must fill teams of 2..50 exactly")
    people = make_buyers(joiners_count + teams_count)
    leaders, joiners = people[:teams_count], people[teams_count:]
    rounds = [group_join_round(db, leaders, joiners, teams_count, n, ours_first=n % 2 == 0)
              for n in range(rounds_count)]
    ours_rate = joiners_count / median([r["ours_seconds"] for r in rounds])
    raw_rate = joiners_count / median([r["raw_seconds"] for r in rounds])
    size = rounds[0]["team_size"]
    return {"label": f"join_group_buy req/s ({joiners_count} concurrent joiners, "
                     f"{teams_count} teams of {size})",
            "baseline_label": "raw conditional seat update_one loop", "unit": "req/s",
            "ours": ours_rate, "baseline": raw_rate, "ratio": raw_rate / ours_rate,
            "joiners": joiners_count, "teams": teams_count, "team_size": size,
            "threads": joiners_count, "rounds": rounds_count,
            "seats_taken": [r["seats_taken"] for r in rounds],
            "orders_placed": [r["orders_placed"] for r in rounds],
            "baseline_won": [r["raw_won"] for r in rounds],
            "final_state": rounds[-1]["ours_state"], "invariant_ok": True}
