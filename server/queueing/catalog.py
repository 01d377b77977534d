"""What a branch offers — its services, counter lists and branch row — as the config sync left them.

They change only when the config is synced (server/branches.py, at start-up), never by a queueing
change, and every change's views ask for them: they are read once per database and kept for the
life of the process. A process syncs its own config before serving, so what it keeps is what its
config says; sync_branch calls :func:`forget_config_rows`.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Branch, Counter, CounterService, Service


@dataclass(frozen=True)
class ServiceRow:
    """A service as the config sync left it (the columns of :class:`Service`, read-only)."""

    id: int
    branch_id: int
    code: str
    name: dict[str, str]
    kind: str
    expected_minutes: float
    documents: list[dict[str, str]]
    notes: dict[str, str] | None
    target_wait_s: int | None
    position: int
    active: bool


_CONFIG_ROWS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
LOCK = threading.Lock()  # also guards the day's figures kept in server/queueing/figures.py


def _engine(session: Session) -> Any:
    """The engine behind the session, also when it is bound to one connection (a write transaction
    several writers share: server/db.py): what is kept is kept per database, not per connection."""
    bind = session.get_bind()
    return getattr(bind, "engine", bind)


def forget_config_rows(session: Session) -> None:
    """The branches' services or counters were changed in this database: read them afresh."""
    with LOCK:
        _CONFIG_ROWS.pop(_engine(session), None)


def _config_rows(session: Session, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
    bind = _engine(session)
    with LOCK:
        cached = _CONFIG_ROWS.get(bind, {}).get(key)
    if cached is None:
        cached = read()
        with LOCK:
            _CONFIG_ROWS.setdefault(bind, {})[key] = cached
    return cached


def _service_rows(session: Session, branch_id: int) -> dict[int, ServiceRow]:
    """Every service of the branch (active or not) by id, in display order."""
    def read() -> dict[int, ServiceRow]:
        columns = [c.key for c in Service.__table__.columns]
        rows = session.connection().execute(
            select(*Service.__table__.columns).where(Service.branch_id == branch_id).order_by(Service.position)
        ).all()
        return {row.id: ServiceRow(**{c: getattr(row, c) for c in columns}) for row in rows}

    rows: dict[int, ServiceRow] = _config_rows(session, ("services", branch_id), read)
    return rows


def services_by_code(session: Session, branch_id: int) -> dict[str, ServiceRow]:
    """The branch's active services, in display order."""
    return {s.code: s for s in _service_rows(session, branch_id).values() if s.active}


def services_by_id(session: Session, branch_id: int) -> dict[int, ServiceRow]:
    """Every service of the branch, active or not."""
    return dict(_service_rows(session, branch_id))


def service_row(session: Session, branch_id: int, service_id: int) -> ServiceRow:
    return _service_rows(session, branch_id)[service_id]


def counter_services(session: Session, branch_id: int) -> dict[int, list[int]]:
    """Service ids per counter id, in the counter's call order."""

    def read() -> dict[int, list[int]]:
        rows = session.execute(
            select(CounterService.counter_id, CounterService.service_id)
            .join(Counter, Counter.id == CounterService.counter_id)
            .where(Counter.branch_id == branch_id)
            .order_by(CounterService.counter_id, CounterService.rank)
        )
        out: dict[int, list[int]] = defaultdict(list)
        for counter_id, service_id in rows:
            out[counter_id].append(service_id)
        return out

    cached = _config_rows(session, ("counter_services", branch_id), read)
    out: dict[int, list[int]] = defaultdict(list)
    out.update({counter_id: list(ids) for counter_id, ids in cached.items()})
    return out


def branch_row(session: Session, branch_id: int) -> dict[str, Any] | None:
    """The branch's code, name, timezone and languages (None for no such branch)."""
    def read() -> dict[str, Any] | bool:
        branch = session.get(Branch, branch_id)
        return {"code": branch.code, "name": branch.name, "timezone": branch.timezone,
                "languages": tuple(branch.languages)} if branch else False

    return _config_rows(session, ("branch", branch_id), read) or None
