"""The dev gateway's embedded database kept across restarts: a snapshot file.

mongomock lives in memory, so without this every ``make run`` forgot the whole shop. The
gateway loads the snapshot at start (and seeds demo data only when there is none), and a
``Snapshotter`` thread writes it after changes, at most once per interval, and once more at
exit. Only the dev gateway asks for one; tests never write one unless they ask.

Format: MongoDB Extended JSON (canonical) through ``bson.json_util``, not pickle. It keeps the
BSON types exactly (aware UTC datetimes at MongoDB's millisecond precision, ObjectId, int64
against double, Decimal128, bytes), loading it runs no code (a pickle runs whatever the file
says), it does not depend on Python or mongomock class layouts, and a developer can read it.

Every save is atomic: the whole file is written to a temporary file in the same directory,
flushed to disk, and moved over the snapshot with ``os.replace``, so a save killed at any
point leaves the previous snapshot whole (and at worst a stray temporary file, removed at the
next load).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional, Union

from shared.core.db import dump_embedded, embedded_writes, restore_embedded

FORMAT = "shop-embedded-snapshot"
VERSION = 1
TMP_SUFFIX = ".tmp-"


class SnapshotError(RuntimeError):
    """The snapshot file cannot be read as a snapshot."""


def _json_options() -> Any:
    from bson.json_util import CANONICAL_JSON_OPTIONS
    from bson.tz_util import utc
    return CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=utc)


def encode(collections: dict[str, list[dict[str, Any]]]) -> bytes:
    from bson.json_util import dumps
    body = {"format": FORMAT, "version": VERSION, "collections": collections}
    return dumps(body, json_options=_json_options(), ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> dict[str, list[dict[str, Any]]]:
    from bson.json_util import loads
    try:
        body = loads(data.decode("utf-8"), json_options=_json_options())
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise SnapshotError(f"not a snapshot: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise SnapshotError("not a snapshot of the embedded database")
    if body.get("version") != VERSION:
        raise SnapshotError(f"snapshot version {body.get('version')} is not {VERSION}")
    collections = body.get("collections")
    if not isinstance(collections, dict) or not all(
            isinstance(docs, list) for docs in collections.values()):
        raise SnapshotError("the snapshot's collections are malformed")
    return collections


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once: a reader (or the next start) sees the old
    file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_SUFFIX}{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save(path: Union[str, Path]) -> int:
    """Write the embedded database to ``path``; returns the write count it reflects."""
    writes, collections = dump_embedded()
    write_atomically(Path(path), encode(collections))
    return writes


def load(path: Union[str, Path]) -> Optional[int]:
    """Restore the embedded database from ``path``: the number of documents, or None when there
    is no snapshot. Raises SnapshotError when the file is not a readable snapshot."""
    path = Path(path)
    for stray in path.parent.glob(f"{path.name}{TMP_SUFFIX}*"):
        stray.unlink(missing_ok=True)  # a save that was killed before its rename
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return restore_embedded(decode(data))


class Snapshotter:
    """Saves the embedded database to ``path`` after changes, at most once per ``interval``
    seconds, from a daemon thread; ``stop()`` saves what is left."""

    def __init__(self, path: Union[str, Path], interval: float = 1.0) -> None:
        self.path = Path(path)
        self.interval = interval
        self.saved = embedded_writes()  # what is on disk now (just loaded, or nothing yet)
        self.saves = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)

    def start(self) -> "Snapshotter":
        self._thread.start()
        return self

    def save_if_changed(self) -> bool:
        with self._lock:  # the thread and stop() never write the file at the same time
            if embedded_writes() == self.saved:
                return False
            self.saved = save(self.path)
            self.saves += 1
            return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save_if_changed()
            except Exception as exc:  # a full disk must not kill the gateway; say it and retry
                print(f"snapshot: could not save {self.path}: {exc}", flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.save_if_changed()
