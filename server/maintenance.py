"""Keeping a branch's database in shape: the day rollover, event retention, backups.

The sweeping process runs :func:`daily` after its sweeps; operators run backups and archiving
from the command line (``python -m server backup``, ``python -m server archive-events``).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import sqlite3
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

from server.bootstrap import instance_dir, private_folder
from server.models import Event
from server.queueing.tickets import close_the_days
from server.runtime import Runtime

log = logging.getLogger(__name__)
ARCHIVE_BATCH = 5000


class Housekeeping:
    """Runs :func:`daily` at most once per ``every_s`` (the sweeper calls it after each sweep)."""

    def __init__(self, rt: Runtime, every_s: float = 60.0) -> None:
        self.rt = rt
        self.every_s = every_s
        self._last = float("-inf")

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            daily(self.rt)


def daily(rt: Runtime) -> dict[str, int]:
    """Closing and the day rollover for every branch, then event retention. Safe to run as often as
    wanted: each step does nothing once done."""
    closed = close_the_days(rt)
    archived = 0
    if rt.config.retention.events_days:
        archived = archive_events(rt, rt.config.retention.events_days)
    if closed or archived:
        log.info("housekeeping: %s stale tickets closed, %s old events %sd", closed, archived,
                 rt.config.retention.events_action)
    return {"closed": closed, "archived": archived}


def archive_events(rt: Runtime, older_than_days: int, action: str | None = None, folder: Path | None = None) -> int:
    """Take events older than ``older_than_days`` (by the branch clock) out of the database.

    With the ``archive`` action (the default) they are first appended, as JSON Lines, to a gzipped
    file per month under ``[retention] archive_dir``, and only then deleted, batch by batch, each
    batch in one transaction; ``delete`` just deletes. Tickets, alerts and the current state are
    untouched: only the history of changes older than the cut-off leaves.
    """
    action = action or rt.config.retention.events_action
    cutoff = rt.clock.now() - timedelta(days=older_than_days)
    folder = Path(folder or rt.config.retention.archive_dir)
    if not folder.is_absolute():
        folder = instance_dir(rt.config).parent / folder
    moved = 0
    with rt.reading() as session:
        if session.scalar(select(Event.id).where(Event.at < cutoff).limit(1)) is None:
            return 0
    while True:
        with rt.uow() as uow:
            rows = list(uow.session.scalars(
                select(Event).where(Event.at < cutoff).order_by(Event.id).limit(ARCHIVE_BATCH)
            ))
            if not rows:
                return moved
            if action == "archive":
                _append_archive(folder, rows)
            uow.session.execute(delete(Event).where(Event.id.in_([row.id for row in rows])))
            uow.commit()
            moved += len(rows)


def _append_archive(folder: Path, rows: list[Event]) -> None:
    private_folder(folder)
    by_month: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_month[row.at.strftime("%Y-%m")].append({
            "id": row.id, "branch_id": row.branch_id, "at": row.at.isoformat(), "entity": row.entity,
            "entity_id": row.entity_id, "action": row.action, "from_state": row.from_state,
            "to_state": row.to_state, "staff_id": row.staff_id, "device_id": row.device_id, "data": row.data,
        })
    for month, records in by_month.items():
        # Appending gzip members keeps each write whole; readers (zcat, gzip.open) see one stream.
        with gzip.open(folder / f"events-{month}.jsonl.gz", "at", encoding="utf-8") as archive:
            for record in records:
                archive.write(json.dumps(record, ensure_ascii=False) + "\n")


class BackupFailed(Exception):
    """The backup could not be made; the message says why in one line, and no file was left behind."""


def backup_sqlite(database_url: str, destination: Path) -> Path:
    """An online, consistent copy of a SQLite database (SQLite's backup API: the server keeps
    running and writing while it copies). Returns the file written.

    The source is opened read-only, so a mistyped path is an error rather than a new empty database;
    the copy is written under a temporary name (readable by its owner only, like the database) and
    renamed when complete and checked, so a failed backup leaves no file that looks like one.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise ValueError("backup copies a SQLite file; for PostgreSQL use pg_dump (see README)")
    source_path = Path(url.database)
    if not source_path.is_file():
        raise BackupFailed(f"there is no database at {source_path} to back up (server.database_url); "
                           "check the config, or run python -m server db upgrade to create it")
    destination = Path(destination)
    if destination.is_dir():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        destination = destination / f"{source_path.stem}-{stamp}.db"
    if not destination.parent.exists():
        private_folder(destination.parent)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(partial)
        try:
            with target:
                source.backup(target, pages=1024, sleep=0.01)
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupFailed(f"the copy of {source_path} failed its integrity check: {check}")
            if not target.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise BackupFailed(f"{source_path} is an empty database, not Callwise's; nothing to back up")
        finally:
            target.close()
            source.close()
        os.replace(partial, destination)
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot back up {source_path}: {exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return destination
