"""The one place that reads the wall clock.

Domain code and alert rules take ``now`` as an argument; services take a clock. Tests and the
simulator use :class:`ManualClock` and move time themselves, so a branch day runs in seconds.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time as an aware UTC datetime."""

    manual: bool

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    manual = False

    def now(self) -> datetime:
        return wall_now()


class ManualClock:
    """A clock that only moves when told to. Safe to share between threads."""

    manual = True

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(timezone.utc)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than now."""
        when = when.astimezone(timezone.utc)
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = when


def wall_now() -> datetime:
    """Real time, for infrastructure only (log-in expiry): never for queueing or alert decisions."""
    return datetime.now(timezone.utc)


def clock_from_config(mode: str, start: datetime | None) -> Clock:
    """The clock a config asks for."""
    if mode == "manual":
        return ManualClock(start)
    return SystemClock()
