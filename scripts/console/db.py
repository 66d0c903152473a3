"""shopctl db: the only commands that use the shared library (on a real MongoDB)."""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator

import typer

from .base import ROOT, emit_line, fail, spinner

app = typer.Typer(help="A real MongoDB (MONGODB_URI): indexes and demo data. "
                       "Works on the database directly, not over HTTP.",
                  no_args_is_help=True)


@contextlib.contextmanager
def configured_db(label: str) -> Iterator[Any]:
    """The database named by MONGODB_URI/MONGODB_DB; its failures end the command in one line."""
    # imported here: every other command runs without the backend's dependencies
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from pymongo.errors import PyMongoError

    from shared.core.config import ConfigError, get_settings
    from shared.core.db import get_db
    try:
        settings = get_settings()
    except ConfigError as exc:
        fail(str(exc))
    if not settings.MONGODB_URI:
        fail("MONGODB_URI is unset: the embedded database lives inside the dev gateway, which "
             "creates its indexes and seeds itself on start; set MONGODB_URI (and MONGODB_DB) "
             "to prepare a real MongoDB")
    try:
        with spinner(label):
            yield get_db()
    except PyMongoError as exc:
        # pymongo appends a whole topology description; the first part says what went wrong
        reason = str(exc).split(", Timeout:")[0][:300]
        fail(f"cannot reach MongoDB (database {settings.MONGODB_DB}): {reason}", 2)


@app.command("init")
def db_init(ctx: typer.Context) -> None:
    """Create every index of the shop on MONGODB_URI/MONGODB_DB (idempotent)."""
    with configured_db("creating indexes …") as db:
        from shared.core.db import INDEXES, ensure_indexes
        ensure_indexes(db)
    count = sum(len(indexes) for indexes in INDEXES.values())
    emit_line(ctx, {"database": db.name, "indexes": count},
              lambda d: f"{d['indexes']} indexes ensured on database {d['database']}")


@app.command("migrate")
def db_migrate(ctx: typer.Context) -> None:
    """Create the shop's indexes on MONGODB_URI/MONGODB_DB once (idempotent). Functions never
    create them on a cold start; run this (or scripts/deploy apply) after each deploy."""
    with configured_db("creating indexes …") as db:
        from shared.core.db import ensure_indexes
        declared = ensure_indexes(db)
        names = sum(len([n for n in db[c].index_information() if n != "_id_"])
                    for c in db.list_collection_names())
    emit_line(ctx, {"database": db.name, "indexes": declared, "present": names},
              lambda d: f"{d['indexes']} indexes ensured on database {d['database']} "
                        f"({d['present']} present)")


@app.command("seed")
def db_seed(
    ctx: typer.Context,
    media_base: str = typer.Option("http://127.0.0.1:8080/media",
                                   help="Base URL of the demo product images."),
) -> None:
    """Load the demo data (categories, 30 products, stores, a coupon); safe to run twice."""
    with configured_db("seeding …") as db:
        from shared.demo.seed import seed
        counts = seed(db, media_base=media_base)
    emit_line(ctx, counts,
              lambda c: "seeded " + ", ".join(f"{n} {what}" for what, n in c.items()))
