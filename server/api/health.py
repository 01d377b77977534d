"""Health: is the server up, and can it write to its database.

"ok" used to mean only that the database answered a SELECT: a read-only database (a full or
read-only disk, a PostgreSQL replica or a read-only session) was "ok" while no ticket could be
issued. Health now runs a write that changes nothing (an UPDATE matching no row, rolled back): SQLite
refuses it on a read-only file and PostgreSQL in a read-only transaction. A success is kept for
PROBE_CACHE_S, per database, so a load balancer polling every second costs one probe per interval;
a failure is never kept, so recovery shows at the next poll.

The answer is public (load balancers and the start page call it without a token), so it says nothing
an attacker could use: the process id and the sweeper's state are for admins only (issue 16,
finding 10).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from weakref import WeakKeyDictionary

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from server.actors import ANONYMOUS, Actor
from server.api import bp
from server.api.common import current_actor, runtime
from server.api.errors import error_response
from server.db import Database
from server.errors import CallwiseError
from server.models import Branch

PROBE_CACHE_S = 2.0
_READ_ONLY_WORDS = ("readonly database", "read-only transaction", "read-only database", "read only")
_READ_ONLY_SQLSTATE = "25006"  # PostgreSQL's read_only_sql_transaction
_probe_lock = threading.Lock()
_writable_at: WeakKeyDictionary[Database, float] = WeakKeyDictionary()  # when each database last took a write


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 with the server's state when the database answers and takes writes; 503 (JSON error) when
    it does not answer (``database_unavailable``) or answers read-only (``database_read_only``)."""
    rt = runtime()
    problem = writable_problem(rt.db)
    if problem is not None:
        return error_response(503, "database_read_only",
                              f"the database answers but cannot be written ({problem}); nothing can be saved")
    body: dict[str, Any] = {
        "status": "ok",
        "branch": rt.config.branch.code,
        "branches": [spec.code for spec in rt.config.branches],
        "database": rt.db.dialect,
        "clock": "manual" if rt.clock.manual else "system",
        "now": rt.clock.now().isoformat(),
        "mode": rt.config.server.mode,
    }
    if _caller().role == "admin":
        body.update({
            "pid": os.getpid(),
            "sweeper": bool(rt.alerts.sweeping) if rt.alerts is not None else False,
            "sweeps": rt.alerts.sweeps if rt.alerts is not None else 0,
        })
    return jsonify(body)


def _caller() -> Actor:
    """The caller when a staff token or cookie comes along; anonymous otherwise, and also for a bad
    token (a health check answers, whatever header a monitor sends)."""
    try:
        actor = current_actor()
    except CallwiseError:
        return ANONYMOUS
    return actor if actor.is_staff else ANONYMOUS


def writable_problem(db: Database) -> str | None:
    """None when ``db`` took a write within the last PROBE_CACHE_S, or does now; why not otherwise.
    A database that does not answer at all raises (the API answers 503 ``database_unavailable``)."""
    if time.monotonic() - _writable_at.get(db, float("-inf")) < PROBE_CACHE_S:
        return None
    with _probe_lock:  # one probe at a time; the others then find it fresh
        if time.monotonic() - _writable_at.get(db, float("-inf")) < PROBE_CACHE_S:
            return None
        try:
            with db.writing() as session:
                session.execute(update(Branch).where(Branch.id == -1).values(code=Branch.code))
                session.rollback()
        except DBAPIError as exc:
            if _read_only(exc):
                return str(exc.orig).strip().splitlines()[0]
            raise
        _writable_at[db] = time.monotonic()
    return None


def _read_only(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "sqlstate", None) == _READ_ONLY_SQLSTATE:
        return True
    message = str(exc.orig).lower()
    return any(words in message for words in _READ_ONLY_WORDS)
