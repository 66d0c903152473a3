"""Fan-out of jobs bigger than one batch: plan by ``_id`` ranges, run each batch once.

A job (cart reminders, birthday coupons, a merchant campaign) is planned into batches of
``MARKETING_BATCH_SIZE`` users by ``_id`` ranges and recorded in a batch ledger
(``job_batches``, one document per job and batch). Each batch is run by the
``marketing_push_batch`` function: through SCF async ``Invoke`` in production, on a thread
pool in dev and tests. A batch only ever queues outbox messages under idempotency keys, so a
batch that runs twice sends nobody anything twice; a failed or stalled batch is run again by
the next dispatch, and the job is done only when every batch is.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
from datetime import timedelta
from typing import Any, Optional

from pymongo.errors import DuplicateKeyError

from shared.core.context import Context
from shared.core.log import get_logger, log_event

logger = get_logger("shop.fanout")

BATCH_LEASE = timedelta(minutes=5)
FUNCTION = "marketing_push_batch"

# job kind -> (module, function(ctx, job, user_ids) -> counts)
JOB_KINDS: dict[str, tuple[str, str]] = {
    "cart_reminder": ("shared.marketing.reminders", "cart_reminder_batch"),
    "birthday": ("shared.marketing.reminders", "birthday_batch"),
    "campaign": ("shared.marketing.campaigns", "campaign_batch"),
}


def _signature(secret: str, job_id: str, batch: int) -> str:
    return hmac.new(secret.encode(), f"{job_id}:{batch}".encode(), hashlib.sha256).hexdigest()


# ---- planning ------------------------------------------------------------------------------

def _encode(population: dict[str, Any]) -> str:
    from bson import json_util
    return json_util.dumps(population)


def _decode(population: Any) -> dict[str, Any]:
    from bson import json_util
    if not isinstance(population, str):
        return population
    from datetime import timezone
    options = json_util.JSONOptions(tz_aware=True, tzinfo=timezone.utc)
    return json_util.loads(population, json_options=options)

def start_job(ctx: Context, kind: str, job_id: str, population: dict[str, Any],
              params: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Plan the job over the users matching ``population`` (once per job id) and run it."""
    try:
        # the filter is kept as Extended JSON text: its "$" operators are not field names a
        # server stores gladly (MongoDB < 5 refuses them), and datetimes must survive
        ctx.db.jobs.insert_one({"_id": job_id, "kind": kind,
                                "population": _encode(population),
                                "params": params or {}, "status": "planning",
                                "batches_total": None, "created_at": ctx.now})
    except DuplicateKeyError:
        # planned before: the ledger tells what is left (an interrupted plan resumes below)
        log_event(logger, "job started again", job_id=job_id)
    job = ctx.db.jobs.find_one({"_id": job_id})
    if job["status"] == "planning":
        _plan(ctx, job)
    dispatch(ctx, job_id)
    return job_summary(ctx.db, job_id)


def _plan(ctx: Context, job: dict[str, Any]) -> None:
    """Cut the population into ``_id`` ranges; re-planning a job writes the same ranges."""
    size = ctx.settings.MARKETING_BATCH_SIZE
    batch, count = 0, 0
    first: Any = None  # the first and last _id of the batch being counted
    last: Any = None
    cursor = ctx.db.users.find(_decode(job["population"]), {"_id": 1}).sort([("_id", 1)])
    for doc in cursor:
        if first is None:
            first = doc["_id"]
        last, count = doc["_id"], count + 1
        if count == size:
            _record_batch(ctx, job["_id"], batch, first, last, count)
            batch, first, count = batch + 1, None, 0
    if count:
        _record_batch(ctx, job["_id"], batch, first, last, count)
        batch += 1
    ctx.db.jobs.update_one({"_id": job["_id"], "status": "planning"},
                           {"$set": {"status": "running", "batches_total": batch,
                                     "planned_at": ctx.now}})
    if batch == 0:
        ctx.db.jobs.update_one({"_id": job["_id"]}, {"$set": {"status": "done",
                                                                "done_at": ctx.now}})


def _record_batch(ctx: Context, job_id: str, batch: int, first: str, last: str, count: int) -> None:
    ctx.db.job_batches.update_one(
        {"_id": f"{job_id}:{batch:06d}"},
        {"$setOnInsert": {"job_id": job_id, "batch": batch, "first_id": first, "last_id": last,
                          "planned": count, "status": "pending", "attempts": 0,
                          "lease_until": None}}, upsert=True)


# ---- running -------------------------------------------------------------------------------

def dispatch(ctx: Context, job_id: Optional[str] = None) -> int:
    """Send every batch that is pending, failed, or stalled past its lease to be run.

    A pending batch already sent to a runner is sent again only after a lease: an async
    invoke can wait in SCF's queue for minutes, and the every-minute dispatch must not pile
    a new invoke of every queued batch onto it each time."""
    resend = ctx.now - BATCH_LEASE
    query: dict[str, Any] = {"$or": [
        {"status": "failed"},
        {"status": "pending", "$or": [{"dispatched_at": None},
                                      {"dispatched_at": {"$lte": resend}}]},
        {"status": "running", "lease_until": {"$lte": ctx.now}}]}
    if job_id:
        query["job_id"] = job_id
    due = [(b["job_id"], b["batch"]) for b in ctx.db.job_batches.find(query, {"job_id": 1,
                                                                             "batch": 1})]
    if due:
        ctx.db.job_batches.update_many(
            {"_id": {"$in": [f"{job}:{batch:06d}" for job, batch in due]}},
            {"$set": {"dispatched_at": ctx.now}})
        _runner(ctx.settings).run(ctx, due)
    return len(due)


def run_batch(ctx: Context, job_id: str, batch: int) -> dict[str, Any]:
    """Run one batch if nobody else is; safe to call twice (the outbox keys dedupe)."""
    from pymongo import ReturnDocument
    claimed = ctx.db.job_batches.find_one_and_update(
        {"_id": f"{job_id}:{batch:06d}",
         "$or": [{"status": {"$in": ["pending", "failed"]}},
                 {"status": "running", "lease_until": {"$lte": ctx.now}}]},
        {"$set": {"status": "running", "lease_until": ctx.now + BATCH_LEASE,
                  "started_at": ctx.now}, "$inc": {"attempts": 1}},
        return_document=ReturnDocument.AFTER)
    if claimed is None:
        return {"skipped": "not due"}
    job = ctx.db.jobs.find_one({"_id": job_id})
    module, function = JOB_KINDS[job["kind"]]
    handler = getattr(importlib.import_module(module), function)
    query = {**_decode(job["population"]), "_id": {"$gte": claimed["first_id"],
                                          "$lte": claimed["last_id"]}}
    user_ids = [u["_id"] for u in ctx.db.users.find(query, {"_id": 1}).sort([("_id", 1)])]
    try:
        counts = handler(ctx, job, user_ids)
    except Exception as exc:  # the batch fails whole; the next dispatch runs it again
        logger.exception("batch %s of job %s failed", batch, job_id)
        ctx.db.job_batches.update_one({"_id": claimed["_id"]},
                                      {"$set": {"status": "failed", "error": repr(exc)[:300]}})
        return {"failed": repr(exc)[:300]}
    ctx.db.job_batches.update_one({"_id": claimed["_id"]},
                                  {"$set": {"status": "done", "counts": counts,
                                            "done_at": ctx.now}})
    finish_job_if_done(ctx, job_id)
    return counts


def finish_job_if_done(ctx: Context, job_id: str) -> None:
    open_batches = ctx.db.job_batches.count_documents({"job_id": job_id,
                                                      "status": {"$ne": "done"}})
    if open_batches == 0:
        ctx.db.jobs.update_one({"_id": job_id, "status": "running"},
                               {"$set": {"status": "done", "done_at": ctx.now}})


def job_summary(db: Any, job_id: str) -> dict[str, Any]:
    job = db.jobs.find_one({"_id": job_id})
    batches = list(db.job_batches.find({"job_id": job_id}, {"status": 1, "counts": 1}))
    totals: dict[str, int] = {}
    for batch in batches:
        for key, value in (batch.get("counts") or {}).items():
            totals[key] = totals.get(key, 0) + value
    return {"job_id": job_id, "kind": job["kind"], "status": job["status"],
            "batches": len(batches),
            "batches_done": sum(1 for b in batches if b["status"] == "done"), "counts": totals}


# ---- the runners ---------------------------------------------------------------------------

class InProcessRunner:
    """Dev and tests: a thread pool stands in for SCF; waits so a timer run is complete."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, ctx: Context, due: list[tuple[str, int]]) -> None:
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(run_batch, replace(ctx), job_id, batch): (job_id, batch)
                       for job_id, batch in due}
        for future, (job_id, batch) in futures.items():
            if future.exception() is not None:  # the batch keeps its lease and runs again
                log_event(logger, "batch crashed", job_id=job_id, batch=batch,
                          error=repr(future.exception())[:300])


class ScfRunner:
    """Production: one async SCF invoke of marketing_push_batch per batch, by its deployed name
    and namespace (``FANOUT_FUNCTION``, ``SCF_NAMESPACE``: scripts/deploy sets both)."""

    def run(self, ctx: Context, due: list[tuple[str, int]]) -> None:
        from shared.cloud.scf import invoke_async
        for job_id, batch in due:
            invoke_async(ctx.settings, ctx.settings.FANOUT_FUNCTION,
                         invoke_payload(ctx.settings, job_id, batch))


def invoke_payload(settings: Any, job_id: str, batch: int) -> dict[str, Any]:
    return {"_invoke": FUNCTION, "job_id": job_id, "batch": batch,
            "sig": _signature(settings.TOKEN_SECRET, job_id, batch)}


def _runner(settings: Any) -> Any:
    mode = settings.FANOUT_RUNNER
    if mode == "scf" or (mode == "auto" and settings.is_production):
        return ScfRunner()
    return InProcessRunner(settings.FANOUT_WORKERS)


def handle_invoke(ctx: Context, event: dict[str, Any]) -> dict[str, Any]:
    """The marketing_push_batch function: run the batch an invoke event names, if signed."""
    from shared.core.errors import ShopError
    job_id, batch = str(event.get("job_id", "")), event.get("batch")
    if not isinstance(batch, int) or not hmac.compare_digest(
            _signature(ctx.settings.TOKEN_SECRET, job_id, batch), str(event.get("sig", ""))):
        raise ShopError("FORBIDDEN", "unsigned batch invoke")
    return run_batch(ctx, job_id, batch)


def retry_stalled(ctx: Context) -> dict[str, int]:
    """Part of the campaign_dispatch timer: batches that failed or stalled run again."""
    return {"batches_redispatched": dispatch(ctx)}
