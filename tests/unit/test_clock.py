"""The manual clock tests and the simulator move by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server.clock import ManualClock


def test_manual_clock_moves_only_when_told():
    start = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(90) == start + timedelta(seconds=90)
    assert clock.now() == start + timedelta(seconds=90)


def test_manual_clock_never_goes_backwards():
    clock = ManualClock(datetime(2026, 11, 30, tzinfo=timezone.utc))
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 11, 29, tzinfo=timezone.utc))


def test_manual_clock_needs_an_aware_time():
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 11, 30))
