"""Which process sweeps. Several Callwise processes may serve one database; the periodic alert
sweep (and the daily housekeeping) must run in exactly one of them at a time, and move to another
when that one dies.

The lock lives where a dead process cannot keep it:
- PostgreSQL: a session-level advisory lock on a connection of its own; if the process dies, its
  connection closes and PostgreSQL releases the lock. If the database restarts, the connection is
  lost and every process competes again on its next tick.
- SQLite (several processes on one machine): an exclusive ``flock`` on a file beside the database;
  the kernel releases it when the process exits, however it exits.

Event-driven evaluations still run in whichever process made the change; the database's unique
index on open alerts keeps them from duplicating what the sweeper raises.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

SWEEP_LOCK = 0x43415357  # "CASW": the same constant in every Callwise process


class SweepLeader:
    """``is_leader()`` takes the lock if it is free and says whether this process holds it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Any = None
        self._file: Any = None
        self.held = False
        url = make_url(str(engine.url))
        self._lock_path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            self._lock_path = Path(url.database).with_suffix(".sweep.lock")

    def is_leader(self) -> bool:
        try:
            if self.engine.dialect.name == "postgresql":
                self.held = self._postgresql()
            elif self._lock_path is not None:
                self.held = self._file_lock()
            else:
                self.held = True  # an in-memory database has only this process
        except Exception as exc:  # noqa: BLE001 - no database, no leadership; try again next tick
            log.warning("cannot take the sweep lock: %s", exc)
            self._drop_connection()
            self.held = False
        return self.held

    def _postgresql(self) -> bool:
        if self._connection is not None and self.held:
            self._connection.execute(text("SELECT 1"))  # still ours while this connection lives
            return True
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(self._connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEP_LOCK}).scalar())
        if got:
            log.info("this process (pid %s) now sweeps alerts", os.getpid())
        return got

    def _file_lock(self) -> bool:
        if self._file is not None and self.held:
            return True
        assert self._lock_path is not None
        if self._file is None:
            self._file = open(self._lock_path, "a+")  # noqa: SIM115 - kept open while leading
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        log.info("this process (pid %s) now sweeps alerts", os.getpid())
        return True

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is already broken
                pass
            self._connection = None

    def release(self) -> None:
        """Give the lock up (at shutdown); a dead process needs no call."""
        self._drop_connection()
        if self._file is not None:
            self._file.close()
            self._file = None
        self.held = False
