"""标签: named rules over profiles, evaluated for every shopper by a timer and on demand.

A rule is one condition, or ``all``/``any`` of rules:

- ``{"interest": {"category_ids": [...], "min_score": 20}}``: the shopper's interest scores in
  those categories add up to at least ``min_score``;
- ``{"segment": ["important_value", ...]}``: their RFM segment is one of these;
- ``{"spend": {"min": 10000, "max": null}}``: fen paid, net of refunds, within the bounds;
- ``{"events": {"name": "search", "min_count": 3, "days": 7}}``: done at least that often in
  the last ``days`` days;
- ``{"tag": "name"}``: has another tag (no cycles; the other tag is evaluated first).

The seed's example, 彩妆爱好者 (strong interest in lipstick and eye shadow):
``{"all": [{"interest": {"category_ids": ["<口红>"], "min_score": 20}},
{"interest": {"category_ids": ["<眼影>"], "min_score": 20}}]}``.

A shopper's tags are the array ``users.tags`` (what a campaign's audience filters on); an
evaluation changes only the names that are rule tags. The ``tags_refresh`` timer walks the users
in ``_id`` order, 500 at a time (``BATCH``) and at most ``TAGS_REFRESH_MAX_USERS`` a run,
continuing next run where it stopped (``insight_state``: ``tags``); ``merchant_refresh_tags``
rolls the events up and starts a pass from the first user.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.context import Context, Database
from shared.core.errors import ShopError, not_found
from shared.insight.profiles import profile
from shared.insight.rollups import roll_up, user_daily
from shared.insight.schemas import is_trackable

MAX_TAGS = 200
BATCH = 500     # users read and evaluated together
TAG_NAME = r"^[^.$\s][^.$]{0,31}$"


# ---- rules ---------------------------------------------------------------------------------

class InterestCondition(Input):
    category_ids: list[str] = Field(min_length=1, max_length=20)
    min_score: float = Field(ge=0, le=1_000_000)


class SpendCondition(Input):
    min: Optional[int] = Field(default=None, ge=0, le=10**12, description="fen, at least")
    max: Optional[int] = Field(default=None, ge=0, le=10**12, description="fen, at most")


class EventsCondition(Input):
    name: str = Field(min_length=1, max_length=48)
    min_count: int = Field(default=1, ge=1, le=1_000_000)
    days: int = Field(default=30, ge=1, le=365)

    @field_validator("name")
    @classmethod
    def trackable(cls, name: str) -> str:
        if not is_trackable(name):
            raise ValueError(f"unknown event name {name!r}")
        return name


Segment = Literal["important_value", "important_development", "important_retention",
                  "important_recovery", "general_value", "general_development",
                  "general_retention", "general_recovery", "no_orders"]


class Rule(Input):
    """Exactly one of: all, any, interest, segment, spend, events, tag."""
    all: Optional[list["Rule"]] = Field(default=None, min_length=1, max_length=20)
    any: Optional[list["Rule"]] = Field(default=None, min_length=1, max_length=20)
    interest: Optional[InterestCondition] = None
    segment: Optional[list[Segment]] = Field(default=None, min_length=1, max_length=9)
    spend: Optional[SpendCondition] = None
    events: Optional[EventsCondition] = None
    tag: Optional[str] = Field(default=None, pattern=TAG_NAME)

    @model_validator(mode="after")
    def one_condition(self) -> "Rule":
        given = [name for name in ("all", "any", "interest", "segment", "spend", "events", "tag")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a rule is exactly one of all, any, interest, segment, spend, "
                             "events, tag")
        return self


class UpsertTagInput(Input):
    name: str = Field(pattern=TAG_NAME)
    rule: Rule
    description: Optional[str] = Field(default=None, max_length=200)


class TagNameInput(Input):
    name: str = Field(pattern=TAG_NAME)


class RefreshTagsInput(Input):
    name: Optional[str] = Field(default=None, pattern=TAG_NAME,
                                description="unused by the pass (every tag is evaluated); "
                                            "answered with this tag's count")


class ListTagUsersInput(PageInput):
    name: str = Field(pattern=TAG_NAME)


Condition = Union[dict[str, Any], list[Any]]


def referenced(rule: dict[str, Any]) -> set[str]:
    """The other tags a rule names."""
    if rule.get("tag"):
        return {rule["tag"]}
    found: set[str] = set()
    for child in (rule.get("all") or []) + (rule.get("any") or []):
        found |= referenced(child)
    return found


def holds(rule: dict[str, Any], facts: dict[str, Any], has: set[str]) -> bool:
    """Whether a shopper's profile facts meet a stored rule (``has``: tags decided so far)."""
    if rule.get("all") is not None:
        return all(holds(child, facts, has) for child in rule["all"])
    if rule.get("any") is not None:
        return any(holds(child, facts, has) for child in rule["any"])
    if rule.get("interest") is not None:
        scores = facts["scores"]
        wanted = rule["interest"]
        return sum(scores.get(c, 0.0) for c in wanted["category_ids"]) >= wanted["min_score"]
    if rule.get("segment") is not None:
        return bool(facts["profile"]["rfm"]["segment"] in rule["segment"])
    if rule.get("spend") is not None:
        spent, bounds = facts["profile"]["rfm"]["monetary"], rule["spend"]
        return ((bounds.get("min") is None or spent >= bounds["min"])
                and (bounds.get("max") is None or spent <= bounds["max"]))
    if rule.get("events") is not None:
        wanted = rule["events"]
        return bool(facts["count"](wanted["name"], wanted["days"]) >= wanted["min_count"])
    return rule.get("tag") in has


def in_order(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tags ordered so that each comes after the tags its rule names; ValueError on a cycle."""
    by_name = {tag["_id"]: tag for tag in tags}
    ordered: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done" or name not in by_name:
            return
        if state.get(name) == "visiting":
            raise ValueError("tags name each other in a cycle: " + " -> ".join(path + (name,)))
        state[name] = "visiting"
        for other in sorted(referenced(by_name[name]["rule"])):
            visit(other, path + (name,))
        state[name] = "done"
        ordered.append(by_name[name])
    for name in sorted(by_name):
        visit(name, ())
    return ordered


# ---- the merchant's tags -------------------------------------------------------------------

def _view(db: Database, tag: dict[str, Any]) -> dict[str, Any]:
    return {"name": tag["_id"], "rule": tag["rule"], "description": tag.get("description"),
            "users": db.users.count_documents({"tags": tag["_id"]}),
            "created_at": iso(tag.get("created_at")), "updated_at": iso(tag.get("updated_at"))}


def _invalid(message: str, message_zh: str) -> ShopError:
    return ShopError("VALIDATION_ERROR", message, {"fields": [{"field": "rule",
                                                              "message": message}]},
                     message_zh=message_zh)


def upsert_tag(ctx: Context, req: UpsertTagInput) -> dict[str, Any]:
    """Create or change a rule tag (interest, RFM segment, spend, events in a window, other
    tags; all/any); the timer or merchant_refresh_tags applies it."""
    rule = req.rule.model_dump(exclude_none=True)
    tags = list(ctx.db.tags.find({}, {"rule": 1}))
    names = {tag["_id"] for tag in tags}
    missing = referenced(rule) - names - {req.name}
    if missing:
        raise _invalid(f"the rule names unknown tags: {', '.join(sorted(missing))}",
                       "规则引用了不存在的标签")
    if req.name in referenced(rule):
        raise _invalid("a tag cannot name itself", "标签不能引用自身")
    if req.name not in names and len(names) >= MAX_TAGS:
        raise ShopError("LIMIT_EXCEEDED", f"at most {MAX_TAGS} tags", {"max": MAX_TAGS})
    try:
        in_order([tag for tag in tags if tag["_id"] != req.name]
                 + [{"_id": req.name, "rule": rule}])
    except ValueError as exc:
        raise _invalid(str(exc), "标签之间存在循环引用") from None
    ctx.db.tags.update_one({"_id": req.name}, {
        "$set": {"rule": rule, "description": req.description, "updated_at": ctx.now},
        "$setOnInsert": {"created_at": ctx.now}}, upsert=True)
    return _view(ctx.db, ctx.db.tags.find_one({"_id": req.name}))


def list_tags(ctx: Context, req: PageInput) -> dict[str, Any]:
    """The rule tags, each with its rule and how many shoppers have it."""
    total = ctx.db.tags.count_documents({})
    found = ctx.db.tags.find({}).sort("_id", 1).skip(req.skip).limit(req.page_size)
    return page_of([_view(ctx.db, tag) for tag in found], total, req)


def list_tag_users(ctx: Context, req: ListTagUsersInput) -> dict[str, Any]:
    """The shoppers who have a tag, a page at a time."""
    if ctx.db.tags.find_one({"_id": req.name}, {"_id": 1}) is None:
        raise not_found("tag")
    query = {"tags": req.name}
    total = ctx.db.users.count_documents(query)
    found = ctx.db.users.find(query, {"nickname": 1, "tags": 1}).sort("_id", 1) \
        .skip(req.skip).limit(req.page_size)
    return page_of([{"user_id": user["_id"], "nickname": user.get("nickname") or "",
                     "tags": sorted(user.get("tags") or [])} for user in found], total, req)


# ---- evaluation ----------------------------------------------------------------------------

def evaluate_users(db: Database, settings: Any, now: Any, users: list[dict[str, Any]],
                   tags: list[dict[str, Any]]) -> int:
    """Set the rule tags of these users; how many users' tags changed."""
    from shared.insight.profiles import event_count, interests
    rows = user_daily(db, [user["_id"] for user in users])
    rule_names = {tag["_id"] for tag in tags}
    changed = 0
    for user in users:
        mine = rows.get(user["_id"], [])
        facts = {"scores": interests(mine, settings, now),
                 "profile": profile(user["_id"], mine, [], settings, now),
                 "count": lambda name, days, mine=mine: event_count(mine, name, days, now)}
        has: set[str] = set()
        for tag in tags:
            if holds(tag["rule"], facts, has):
                has.add(tag["_id"])
        old = set(user.get("tags") or [])
        new = (old - rule_names) | has
        if new != old:
            db.users.update_one({"_id": user["_id"]}, {"$set": {"tags": sorted(new)}})
            changed += 1
    return changed


def refresh(db: Database, settings: Any, now: Any, max_users: int,
            from_start: bool = False) -> dict[str, Any]:
    """Evaluate every rule tag for up to ``max_users`` users, continuing the last pass."""
    tags = in_order(list(db.tags.find({}, {"rule": 1})))
    state = db.insight_state.find_one({"_id": "tags"}) or {}
    after = "" if from_start else state.get("after", "")
    evaluated = changed = 0
    complete = False
    while evaluated < max_users:
        size = min(BATCH, max_users - evaluated)
        users = list(db.users.find({"_id": {"$gt": after}, "deleted_at": None},
                                   {"tags": 1}).sort("_id", 1).limit(size))
        if tags and users:
            changed += evaluate_users(db, settings, now, users, tags)
        evaluated += len(users)
        if len(users) < size:
            complete = True
            break
        after = users[-1]["_id"]
    db.insight_state.update_one({"_id": "tags"}, {"$set": {
        "after": "" if complete else after, "updated_at": now}}, upsert=True)
    return {"evaluated": evaluated, "changed": changed, "complete": complete, "tags": len(tags)}


def tags_refresh(ctx: Context) -> dict[str, Any]:
    """Every hour: evaluate the rule tags for the next users of the pass (at most
    TAGS_REFRESH_MAX_USERS a run)."""
    return refresh(ctx.db, ctx.settings, ctx.now, ctx.settings.TAGS_REFRESH_MAX_USERS)


def refresh_tags(ctx: Context, req: RefreshTagsInput) -> dict[str, Any]:
    """On demand: roll up what came in, then a pass from the first user (as far as one run
    goes; the timer finishes a longer one)."""
    roll_up(ctx.db, ctx.settings, ctx.now)
    result = refresh(ctx.db, ctx.settings, ctx.now, ctx.settings.TAGS_REFRESH_MAX_USERS,
                     from_start=True)
    if req.name is not None:
        tag = ctx.db.tags.find_one({"_id": req.name})
        if tag is None:
            raise not_found("tag")
        result["tag"] = _view(ctx.db, tag)
    return result
