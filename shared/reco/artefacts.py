"""Where trained models live: npz files in object storage, the newest named in ``meta``.

``reco_train`` writes ``reco/models/<version>.npz`` first, then points ``meta`` document
``reco_model`` at it (only forward: a slower, older run never replaces a newer model). A warm
function keeps the model it loaded and reads the pointer again at most every
``RECO_MODEL_CHECK_SECONDS`` (of the shop's clock); when the version changed it downloads the
new file and swaps it in whole, so a request never sees half of two models.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Optional

from shared.core.context import Context
from shared.reco.model import RecoModel

POINTER = "reco_model"
PREFIX = "reco/models/"

_lock = threading.Lock()
# (database handle, model or None, checked until) of this warm instance
_cached: Optional[tuple[Any, Optional[RecoModel], datetime]] = None


def key_of(version: str) -> str:
    return f"{PREFIX}{version}.npz"


def publish(ctx: Context, model: RecoModel) -> str:
    """Store the artefact, then point at it: a death between the two leaves only an unused
    file, never a pointer to nothing."""
    from shared.storage.uploads import s3_client
    client, _ = s3_client(ctx.settings)
    key = key_of(model.version)
    client.put_object(Bucket=ctx.settings.S3_BUCKET, Key=key, Body=model.to_bytes(),
                      ContentType="application/octet-stream")
    point_at(ctx, model, key)
    # no forget() here: the instance that trains is the timer's, not one that serves; every
    # serving instance, this process's too, sees the new version within the check interval
    return key


def point_at(ctx: Context, model: RecoModel, key: str) -> None:
    """Move the pointer to this model, unless a newer one is there already."""
    fields = {"version": model.version, "key": key, "trained_at": model.trained_at,
              "items": len(model.items)}
    ctx.db.meta.update_one({"_id": POINTER, "trained_at": {"$lte": model.trained_at}},
                           {"$set": fields})
    ctx.db.meta.update_one({"_id": POINTER}, {"$setOnInsert": fields}, upsert=True)


def current_model(ctx: Context) -> Optional[RecoModel]:
    """The newest model (None before the first training), checked at most every
    RECO_MODEL_CHECK_SECONDS."""
    global _cached
    cached = _cached
    if cached is not None and cached[0] is ctx.db and ctx.now < cached[2]:
        return cached[1]
    with _lock:
        cached = _cached
        if cached is not None and cached[0] is ctx.db and ctx.now < cached[2]:
            return cached[1]
        held = cached[1] if cached is not None and cached[0] is ctx.db else None
        pointer = ctx.db.meta.find_one({"_id": POINTER}, {"version": 1, "key": 1})
        model = held
        if pointer is None:
            model = None
        elif held is None or held.version != pointer["version"]:
            model = _download(ctx, pointer["key"])
        until = ctx.now + timedelta(seconds=ctx.settings.RECO_MODEL_CHECK_SECONDS)
        _cached = (ctx.db, model, until)
        return model


def _download(ctx: Context, key: str) -> RecoModel:
    from shared.storage.uploads import s3_client
    client, _ = s3_client(ctx.settings)
    body = client.get_object(Bucket=ctx.settings.S3_BUCKET, Key=key)["Body"].read()
    return RecoModel.from_bytes(body)


def forget() -> None:
    """Read the pointer on the next call (a new database, a test starting afresh)."""
    global _cached
    with _lock:
        _cached = None
