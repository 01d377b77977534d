"""The sweeping process's heartbeat: after a sweep, but at most every HEARTBEAT_S seconds."""

from __future__ import annotations

from server import realtime


def test_a_heartbeat_goes_out_after_the_first_sweep_then_at_most_every_interval(monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "heartbeat", lambda rt: sent.append(rt))
    now = [100.0]
    beat = realtime.Heartbeat("rt", every_s=10, monotonic=lambda: now[0])
    for step in [0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]:  # one call per 2-second sweep
        now[0] += step
        beat()
    assert len(sent) == 3  # at 100, 110 and 120 s
