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
from typing import Any, Protocol

from sqlalchemy.orm import Session

from server.clock import Clock
from server.config import Config
from server.db import Database

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


class UnitOfWork:
    """One write transaction and the messages it will announce once it has committed.

    Messages are published only after a successful commit ("emit after commit"), and outside the
    database write lock, so a slow socket never holds up the next ticket.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outbox: list[Message] = []
        self.changed_branches: set[int] = set()
        self._committed = False
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self._context = self.runtime.db.writing()
        self.session = self._context.__enter__()
        return self

    def emit(self, event: str, payload: dict[str, Any], *rooms: str) -> None:
        self.outbox.append(Message(event, payload, list(rooms)))

    def commit(self) -> None:
        logged = self.session.info.pop("logged_events", [])
        if logged:
            self.session.flush()
            # Every message of a change carries the branch's event-log position after it: a client
            # that later hears a heartbeat with a higher version knows it missed something.
            version = max(event.id for event in logged)
            for message in self.outbox:
                message.payload.setdefault("version", version)
        self.session.commit()
        self._committed = True

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
            for branch_id in self.changed_branches:
                for listener in self.runtime.change_listeners:
                    try:
                        listener(branch_id)
                    except Exception:  # noqa: BLE001 - the next evaluation or sweep catches up
                        log.exception("after-change listener failed for branch %s", branch_id)


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

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

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
