"""What a running Callwise holds: config, database, clock and the way out to screens.

Service functions receive a :class:`Runtime` instead of reaching for Flask globals, so the same
functions serve HTTP requests, socket handlers, the CLI and the simulator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from server import rooms
from server.actors import Actor
from server.clock import Clock
from server.config import Config
from server.db import Database
from server.models import Event, Ticket
from server.rooms import Audience

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Sends an event to Socket.IO rooms (see server/realtime.py)."""

    def publish(self, event: str, payload: dict[str, Any], rooms: list[str]) -> None: ...

    def between_messages(self) -> None:
        """Called between two messages of one change: let the sockets take the last one first."""


class NullPublisher:
    """For the CLI and the simulator: nobody is listening."""

    def publish(self, event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        return None

    def between_messages(self) -> None:
        return None


class RecordingPublisher(NullPublisher):
    """Keeps what would have been sent; for tests that look at the events of one change."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], list[str]]] = []

    def publish(self, event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        self.sent.append((event, payload, rooms))


@dataclass
class Message:
    event: str
    payload: dict[str, Any]
    rooms: list[str]
    branch_id: int | None = None
    audience: Audience = Audience(0)
    ticket_id: int | None = None


@dataclass
class _Change:
    """One change of a ticket or a counter, written to the event log at commit."""

    branch_id: int
    at: datetime
    subject: Any  # the Ticket or Counter row
    action: str
    from_state: str | None
    to_state: str
    staff_id: int | None
    device_id: int | None
    data: dict[str, Any] | None


class UnitOfWork:
    """One write transaction, the changes it makes to tickets and counters, and the messages it
    will announce once it has committed.

    Every change to a ticket or a counter goes through :meth:`record`: at commit each becomes one
    row of the append-only event log, stamped with the audiences that heard the change, and every
    message of the change carries the branch's event-log version after it. The branches that
    changed are derived from what was recorded, and the change listeners (the alert engine) hear of
    them after the commit: a command cannot forget either.

    Messages are published only after a successful commit ("emit after commit"), and outside the
    database write lock, so a slow socket never holds up the next ticket.
    """

    def __init__(self, runtime: Runtime, *, background: bool = False, lane: Any = None) -> None:
        self.runtime = runtime
        self.background = background
        self.lane = lane
        self.outbox: list[Message] = []
        self._changes: list[_Change] = []
        self._committed = False
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self._context = self.runtime.db.writing(background=self.background, lane=self.lane)
        self.session = self._context.__enter__()
        return self

    def record(
        self, actor: Actor, at: datetime, subject: Any, action: str, from_state: str | None, to_state: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """``subject`` (a Ticket or Counter row) went from ``from_state`` to ``to_state`` by ``action``."""
        self._changes.append(_Change(subject.branch_id, at, subject, action, from_state, to_state,
                                     actor.staff_id, actor.device_id, data or None))

    def tell(
        self, event: str, payload: dict[str, Any], audience: Audience, branch_id: int, *,
        ticket_id: int | None = None, staff_id: int | None = None,
    ) -> None:
        """Queue ``event`` for ``audience`` of a branch, to go out once the transaction has committed."""
        targets = rooms.of(audience, branch_id, ticket_id=ticket_id, staff_id=staff_id)
        self.outbox.append(Message(event, payload, targets, branch_id, audience, ticket_id))

    @property
    def changed_branches(self) -> set[int]:
        return {change.branch_id for change in self._changes}

    def commit(self) -> None:
        if self._changes:
            self._write_events()
        self.session.commit()
        self._committed = True

    def _write_events(self) -> None:
        session = self.session
        session.flush()  # a new ticket gets its id
        heard: dict[int, Audience] = {}
        for message in self.outbox:
            if message.branch_id is not None:
                heard[message.branch_id] = heard.get(message.branch_id, Audience(0)) | message.audience
        rows = [
            {"branch_id": c.branch_id, "at": c.at, "entity": _ENTITIES[type(c.subject).__name__],
             "entity_id": c.subject.id, "action": c.action, "from_state": c.from_state, "to_state": c.to_state,
             "staff_id": c.staff_id, "device_id": c.device_id, "data": c.data,
             "audiences": int(heard.get(c.branch_id, 0))}
            for c in self._changes
        ]
        # Core, not ORM objects: every change writes here, and nothing reads the rows back.
        written = session.connection().execute(_insert_events(), rows if len(rows) > 1 else rows[0]).all()
        versions: dict[int, int] = {}
        for event_id, branch_id in written:
            versions[branch_id] = max(versions.get(branch_id, 0), event_id)
        for message in self.outbox:
            # Every message of a change carries the branch's event-log position after it: a client
            # that later hears a heartbeat with a higher version knows it missed something.
            if message.branch_id in versions:
                message.payload.setdefault("version", versions[message.branch_id])
        for branch_id, version in versions.items():
            # A phone page hears of its own ticket through its ticket's room. When the branch's phones
            # heard the change too (a call, a queue move), their version covers it; otherwise the
            # ticket keeps the version for the heartbeat its own page gets.
            if heard.get(branch_id, Audience(0)) & Audience.PHONES:
                continue
            holders = {m.ticket_id for m in self.outbox
                       if m.branch_id == branch_id and m.audience & Audience.HOLDER and m.ticket_id is not None}
            if holders:
                session.execute(update(Ticket).where(Ticket.id.in_(holders)).values(version=version)
                                .execution_options(synchronize_session=False))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._context.__exit__(exc_type, exc, tb)
        if exc_type is None and self._committed:
            # The change is committed: whatever happens now, the caller must hear that it succeeded.
            for i, message in enumerate(self.outbox):
                try:
                    if i:
                        self.runtime.publisher.between_messages()
                    self.runtime.publisher.publish(message.event, message.payload, message.rooms)
                except Exception:  # noqa: BLE001 - a client's socket must not undo a committed change
                    log.exception("could not publish %s", message.event)
            for branch_id in sorted(self.changed_branches):
                for listener in self.runtime.change_listeners:
                    try:
                        listener(branch_id)
                    except Exception:  # noqa: BLE001 - the next evaluation or sweep catches up
                        log.exception("after-change listener failed for branch %s", branch_id)


_ENTITIES = {"Ticket": "ticket", "Counter": "counter"}


@cache
def _insert_events() -> Any:
    return insert(Event.__table__).returning(Event.id, Event.branch_id)  # type: ignore[arg-type]


@dataclass
class Runtime:
    config: Config
    db: Database
    clock: Clock
    publisher: Publisher = field(default_factory=NullPublisher)
    # Called with a branch id after every committed change there (the alert engine listens here).
    change_listeners: list[Callable[[int], None]] = field(default_factory=list)
    # Called with the new time after a manual clock moves (the alert engine evaluates here).
    time_listeners: list[Callable[[datetime], None]] = field(default_factory=list)
    # The alert engine (server/alerts/engine.py), once open_runtime has made it.
    alerts: Any = None
    branch_ids: dict[str, int] = field(default_factory=dict)
    # Small per-runtime caches (server/realtime.py's shared snapshot part).
    caches: dict[str, Any] = field(default_factory=dict, repr=False)
    _branch_configs: dict[int, Config] = field(default_factory=dict, repr=False)

    def uow(self, *, background: bool = False, lane: Any = None) -> UnitOfWork:
        """A write transaction; ``background`` for work nobody waits on, ``lane`` naming the contended
        row it takes (server/db.py's group commit)."""
        return UnitOfWork(self, background=background, lane=lane)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.db.reading() as session:
            yield session

    @property
    def default_branch_id(self) -> int:
        """The config's first branch (the only one, in the common one-branch file)."""
        return self.branch_ids[self.config.branch.code]

    def config_for(self, branch_id: int) -> Config:
        """The config as seen from one branch: its ``branch``, ``services``, ``counters``,
        ``alerts``, ``queue`` and ``tz`` are that branch's (server-wide sections are shared)."""
        cached = self._branch_configs.get(branch_id)
        if cached is not None:
            return cached
        code = next((c for c, i in self.branch_ids.items() if i == branch_id), None)
        spec = self.config.spec(code) if code is not None else None
        if spec is None:
            raise KeyError(f"branch {branch_id} is not in {self.config.source}")
        view = self.config.model_copy(update={"branches": [spec, *[b for b in self.config.branches if b is not spec]]})
        self._branch_configs[branch_id] = view
        return view
