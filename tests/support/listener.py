"""What a page connected to a real server hears: a Socket.IO client that records every event.

:class:`Listener` is the real python-socketio client (websocket or polling), connected as a display,
a console or a phone page; :func:`listening` connects one for a ``with`` block.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import socketio

EVENT_TIMEOUT_S = 5.0
CONNECTED, DISCONNECTED = "(connected)", "(disconnected)"  # recorded by Listener beside the server's events


class Listener:
    """A page's Socket.IO connection (``socketio.Client``) that records every event it receives.

    Events reach one connection in the order the server sent them, so :meth:`sync` — ask for a
    ``state_snapshot`` (with the server's ``request_snapshot`` event) and wait for it — proves that
    anything sent before has arrived. That is how a test shows an event did *not* come, without
    sleeping.
    """

    def __init__(self, base_url: str, auth: Any, *, transport: str = "websocket", reconnection: bool = False) -> None:
        self.base_url = base_url
        self.auth = auth
        self.transport = transport
        self.reconnection = reconnection
        self.events: list[tuple[str, Any]] = []
        self._taken: set[int] = set()
        self._changed = threading.Condition()
        self._left: socketio.Client | None = None
        self.client = self._new_client()

    def _new_client(self) -> socketio.Client:
        client = socketio.Client(
            reconnection=self.reconnection, reconnection_delay=0.1, reconnection_delay_max=0.5,
            randomization_factor=0, request_timeout=5,
        )

        def record(event: str, data: Any = None) -> None:
            if client is not self._left:  # what reaches a page after it left is not heard by anyone
                self._record(event, data)

        client.on("*", record)
        client.on("connect", lambda *_: self._record(CONNECTED, None))
        client.on("disconnect", lambda *_: self._record(DISCONNECTED, None))
        return client

    def _record(self, event: str, data: Any = None) -> None:
        with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def connect(self) -> Listener:
        """Connect (raises ``socketio.exceptions.ConnectionError`` when the server refuses)."""
        if self.client is self._left:  # a page that left comes back on a new connection (see disconnect)
            self.client = self._new_client()
        self.client.connect(self.base_url, auth=self.auth, transports=[self.transport], wait_timeout=EVENT_TIMEOUT_S)
        return self

    def disconnect(self) -> None:
        """Leave as a closed page does: the server hears the Socket.IO goodbye at once.

        Why a side thread: ``socketio.Client.disconnect`` then waits for the transport's own close —
        a WebSocket close frame that the gevent server never answers (websocket-client gives up
        after 3 s), or a long-poll that only returns at the next ping (10 s). Nothing a test checks
        depends on that wait, so it runs in the background, and a later :meth:`connect` opens a new
        client, as a reloaded page would.
        """
        if not self.client.connected:
            return
        before = self.count(DISCONNECTED)
        self._left = self.client
        threading.Thread(target=self.client.disconnect, daemon=True).start()
        self._wait(lambda: self.count(DISCONNECTED) > before, EVENT_TIMEOUT_S, "the client did not disconnect")

    def close(self) -> None:
        """Disconnect, or stop trying to reconnect."""
        if self.client.connected:
            self.disconnect()
        else:
            self.client.shutdown()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def count(self, event: str) -> int:
        with self._changed:
            return sum(1 for name, _ in self.events if name == event)

    def _wait(self, done: Callable[[], bool], timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{failure} within {timeout} s; received: {[n for n, _ in self.events]}")
                self._changed.wait(remaining)

    def wait_for(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = EVENT_TIMEOUT_S
    ) -> Any:
        """The first not yet returned ``event`` whose payload satisfies ``where``; fails after ``timeout``."""
        found: list[Any] = []

        def match() -> bool:
            for index, (name, data) in enumerate(self.events):
                if name == event and index not in self._taken and where(data):
                    self._taken.add(index)
                    found.append(data)
                    return True
            return False

        self._wait(match, timeout, f"no matching {event!r}")
        return found[0]

    def received(self, event: str) -> list[Any]:
        """Every payload of ``event`` received so far."""
        with self._changed:
            return [data for name, data in self.events if name == event]

    def sync(self, timeout: float = EVENT_TIMEOUT_S) -> dict[str, Any]:
        """Round-trip to the server; returns the fresh ``state_snapshot`` that proves it."""
        before = self.count("state_snapshot")
        self.client.emit("request_snapshot")
        self._wait(lambda: self.count("state_snapshot") > before, timeout, "no state_snapshot for request_snapshot")
        return dict(self.received("state_snapshot")[-1])


@contextlib.contextmanager
def listening(base_url: str, auth: dict[str, str] | None, **options: Any) -> Iterator[Listener]:
    """A connected :class:`Listener`, disconnected afterwards."""
    listener = Listener(base_url, auth, **options).connect()
    try:
        yield listener
    finally:
        listener.close()
