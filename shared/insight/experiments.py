"""A/B tests: experiments, the variant each shopper sees, and the exposures they log.

An experiment (collection ``experiments``, ``_id`` = its key, e.g. ``home_layout``) splits
subjects between its variants by weight; a subject is the user when the call brings a token,
else the mini-program's ``device_id``. The split is a hash, not a coin: sha256 of
``"<key>:<subject>"`` read as a number in [0, total weight) picks the variant, so the same
subject gets the same variant on every instance, and an experiment's variants and weights never
change once created (a new split is a new key).

The first call of a subject inside the window logs its exposure (``experiment_exposures``,
``_id`` = ``"<key>:<subject>"``, inserted once: the insert of a second call fails on the
``_id``). A device's variant carries over to its user: the first call with a token that names
a device exposed anonymously gives the user the device's variant and exposure time (so a
shopper does not flip at login) and links the device to the user (``user_id``), so the report
counts that person once. Outside the window, or for a key nobody created: the first variant,
and nothing is logged.

Round trips (a shopper waits for this at home-page load): the experiment is kept per warm
instance for ``EXPERIMENTS_CACHE_SECONDS``; an anonymous call is one insert (that fails once
the device is known), a user's repeat call one read (besides the read its token costs).
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any, Optional

from pydantic import AwareDatetime, Field, model_validator

from shared.core.common import Input, PageInput, iso, page_of
from shared.core.config import get_settings
from shared.core.context import Context, Database
from shared.core.db import insert_once
from shared.core.errors import ShopError
from shared.core.warmcache import WarmCache

# no ":" (it joins key and subject in an exposure's _id), no spaces
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# order_paid (conversion: a paid order), revenue (paid fen per user), or a tracked event:
# one of tracking's known names or a custom x_ name (shared.insight tracking checks those)
METRIC_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
ORDER_METRICS = ("order_paid", "revenue")
# the mini-program's own id, kept in its storage: printable ASCII, no spaces
DEVICE_PATTERN = r"^[\x21-\x7e]{1,64}$"
MAX_WEIGHT = 1_000_000


class VariantInput(Input):
    name: str = Field(min_length=1, max_length=32)
    # any positive numbers: 1 and 3, 25 and 75, or 0.5 and 0.5 split alike
    weight: float = Field(default=1, gt=0, le=MAX_WEIGHT)


class CreateExperimentInput(Input):
    key: str = Field(pattern=KEY_PATTERN)
    # the first variant is the control: what everyone sees outside the window
    variants: list[VariantInput] = Field(min_length=2, max_length=10)
    metric: str = Field(pattern=METRIC_PATTERN)
    starts_at: Optional[AwareDatetime] = None
    ends_at: Optional[AwareDatetime] = None

    @model_validator(mode="after")
    def _coherent(self) -> CreateExperimentInput:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must differ")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self


class ExperimentKeyInput(Input):
    key: str = Field(pattern=KEY_PATTERN)


class GetVariantInput(Input):
    key: str = Field(pattern=KEY_PATTERN)
    # required without a token; with one it names the device the user calls from, so that
    # the variant it saw before login carries over
    device_id: Optional[str] = Field(default=None, pattern=DEVICE_PATTERN)


class ListExperimentsInput(PageInput):
    pass


def experiment_status(doc: dict[str, Any], now: datetime) -> str:
    if doc.get("starts_at") and now < doc["starts_at"]:
        return "scheduled"
    if doc.get("ends_at") and now >= doc["ends_at"]:
        return "ended"
    return "running"


def experiment_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"key": doc["_id"], "metric": doc["metric"],
            "variants": [{"name": v["name"], "weight": v["weight"]} for v in doc["variants"]],
            "starts_at": iso(doc.get("starts_at")), "ends_at": iso(doc.get("ends_at")),
            "status": experiment_status(doc, now), "created_at": iso(doc.get("created_at"))}


def create_experiment(ctx: Context, req: CreateExperimentInput) -> dict[str, Any]:
    """An A/B test of variants by weight (the first is the control); its split never changes."""
    doc = {"_id": req.key, "metric": req.metric,
           "variants": [{"name": v.name, "weight": _number(v.weight)} for v in req.variants],
           "starts_at": req.starts_at, "ends_at": req.ends_at, "created_at": ctx.now}
    if not insert_once(ctx.db.experiments, doc):
        # a split that changed under running exposures would unstick every subject
        raise ShopError("CONFLICT", f"experiment {req.key} exists", {"key": req.key},
                        message_zh=f"实验 {req.key} 已存在，请换一个 key")
    forget_experiments(req.key)
    return experiment_view(doc, ctx.now)


def merchant_list_experiments(ctx: Context, req: ListExperimentsInput) -> dict[str, Any]:
    """Experiments, newest first, with their split, window and status."""
    cursor = ctx.db.experiments.find({}).sort([("created_at", -1), ("_id", 1)]) \
        .skip(req.skip).limit(req.page_size)
    items = [experiment_view(doc, ctx.now) for doc in cursor]
    return page_of(items, ctx.db.experiments.count_documents({}), req)


# ---- the experiment as a warm instance sees it ----------------------------------------------

# unknown keys are kept too (None): the mini-program may ask for a key not created yet
_cache: WarmCache[Optional[dict[str, Any]]] = WarmCache()


def experiment_for(db: Database, key: str) -> Optional[dict[str, Any]]:
    return _cache.get(db, key, get_settings().EXPERIMENTS_CACHE_SECONDS, lambda: db.experiments
                      .find_one({"_id": key}, {"variants": 1, "starts_at": 1, "ends_at": 1}))


def forget_experiments(key: Optional[str] = None) -> None:
    _cache.forget(key)


# ---- assignment ------------------------------------------------------------------------------

def _number(weight: float) -> Any:
    return int(weight) if float(weight).is_integer() else weight


def assign(key: str, subject: str, variants: list[dict[str, Any]]) -> str:
    """The variant of ``subject``: sha256("<key>:<subject>") as a point of [0, total weight)
    against the variants' cumulative weights (exact in integers when the weights are)."""
    digest = int.from_bytes(hashlib.sha256(f"{key}:{subject}".encode()).digest()[:8], "big")
    weights = [v["weight"] for v in variants]
    point: Any
    if all(isinstance(w, int) for w in weights):
        point = (digest * sum(weights)) >> 64
    else:
        point = digest / 2.0 ** 64 * math.fsum(weights)
    for variant, weight in zip(variants, weights):
        point -= weight
        if point < 0:
            return str(variant["name"])
    return str(variants[-1]["name"])  # a float point that rounded up to the total


def is_live(doc: dict[str, Any], now: datetime) -> bool:
    return experiment_status(doc, now) == "running"


def exposure_id(key: str, subject: str) -> str:
    return f"{key}:{subject}"


def get_experiment_variant(ctx: Context, req: GetVariantInput) -> dict[str, Any]:
    """The caller's variant (the user with a token, else the device), sticky; the first call
    logs the exposure. Outside the window: the first variant; unknown key: null; no log."""
    if ctx.user_id is None and req.device_id is None:
        raise ShopError("VALIDATION_ERROR", "device_id is required without a token",
                        {"fields": [{"field": "device_id", "type": "missing",
                                     "message": "required without a token"}]})
    experiment = experiment_for(ctx.db, req.key)
    if experiment is None or not is_live(experiment, ctx.now):
        # the control, logged nowhere: an unknown key has no variant at all (None), and the
        # mini-program shows its default
        first = experiment["variants"][0]["name"] if experiment else None
        return {"key": req.key, "variant": first}
    if ctx.user_id is not None:
        return {"key": req.key,
                "variant": _expose_user(ctx, experiment, ctx.user_id, req.device_id)}
    assert req.device_id is not None  # refused above
    return {"key": req.key, "variant": _expose_device(ctx, experiment, req.device_id)}


def variant_for(ctx: Context, key: str, device_id: Optional[str]) -> Optional[str]:
    """For another action deciding by an experiment (recommendation's ``reco_algorithm``): the
    caller's variant of a running experiment, its exposure logged as
    ``get_experiment_variant`` logs it; None when the key is unknown, outside its window, or
    the caller is neither a user nor a device (the action's default applies)."""
    experiment = experiment_for(ctx.db, key)
    if experiment is None or not is_live(experiment, ctx.now):
        return None
    if ctx.user_id is not None:
        return _expose_user(ctx, experiment, ctx.user_id, device_id)
    if device_id is None:
        return None
    return _expose_device(ctx, experiment, device_id)


def _expose_device(ctx: Context, experiment: dict[str, Any], device_id: str) -> str:
    """A device's variant is always its hash (nothing carries over to a device), so the call
    needs no read: the insert logs the first exposure, and fails on the _id afterwards."""
    key = experiment["_id"]
    variant = assign(key, device_id, experiment["variants"])
    insert_once(ctx.db.experiment_exposures, {
        "_id": exposure_id(key, device_id), "key": key, "kind": "device", "subject": device_id,
        "device_id": device_id, "user_id": None, "variant": variant, "exposed_at": ctx.now})
    return variant


def _expose_user(ctx: Context, experiment: dict[str, Any], user_id: str,
                 device_id: Optional[str]) -> str:
    key = experiment["_id"]
    mine_id = exposure_id(key, user_id)
    device_key = exposure_id(key, device_id) if device_id else None
    wanted = [mine_id] + ([device_key] if device_key and device_key != mine_id else [])
    found = {doc["_id"]: doc for doc in ctx.db.experiment_exposures.find(
        {"_id": {"$in": wanted}}, {"variant": 1, "user_id": 1, "exposed_at": 1})}
    mine = found.get(mine_id)
    device = found.get(device_key) if device_key else None
    if mine is None:
        mine = _first_user_exposure(ctx, experiment, user_id, device_id, device)
    if device is not None and device.get("user_id") is None:
        # the person is counted as the user from now on, whichever variant each had; a death
        # before this write is finished by the next call (and the report dedupes carried
        # devices by from_device anyway)
        ctx.db.experiment_exposures.update_one({"_id": device_key, "user_id": None},
                                               {"$set": {"user_id": user_id}})
    return str(mine["variant"])


def _first_user_exposure(ctx: Context, experiment: dict[str, Any], user_id: str,
                         device_id: Optional[str],
                         device: Optional[dict[str, Any]]) -> dict[str, Any]:
    key = experiment["_id"]
    carried = device is not None and device.get("user_id") in (None, user_id)
    doc: dict[str, Any] = {
        "_id": exposure_id(key, user_id), "key": key, "kind": "user", "subject": user_id,
        "user_id": user_id, "device_id": device_id, "exposed_at": ctx.now,
        "variant": assign(key, user_id, experiment["variants"])}
    if carried and device is not None:
        # no flip at login: the device's variant, and its first exposure, become the user's
        doc.update(variant=device["variant"], exposed_at=device["exposed_at"],
                   from_device=device_id)
    if insert_once(ctx.db.experiment_exposures, doc):
        return doc
    # a concurrent first call (another tab, a retry) logged it first: theirs stands
    return ctx.db.experiment_exposures.find_one({"_id": doc["_id"]}) or doc
