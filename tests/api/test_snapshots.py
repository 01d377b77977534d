"""state_snapshot on connect: what every screen of a branch shares is read once per change."""

from __future__ import annotations

from server import realtime
from server.realtime import socketio


def _snapshot(app, token):  # type: ignore[no-untyped-def]
    client = socketio.test_client(app, auth={"token": token})
    assert client.is_connected()
    [message] = [m for m in client.get_received() if m["name"] == "state_snapshot"]
    client.disconnect()
    return message["args"][0]


def test_displays_connecting_together_share_one_read_and_a_change_is_read_afresh(app, api, fresh_db, monkeypatch):
    reads = []
    real = realtime.reads.counter_views
    monkeypatch.setattr(realtime.reads, "counter_views", lambda *a, **k: reads.append(1) or real(*a, **k))
    api.issue("A")
    first = [_snapshot(app, fresh_db.tokens["display"]) for _ in range(5)]
    assert len(reads) == 1
    assert all(s["services"] == first[0]["services"] and s["version"] == first[0]["version"] for s in first)
    api.open(1, "teller1")  # a change: the next screen must see it
    after = _snapshot(app, fresh_db.tokens["display"])
    assert len(reads) == 2
    assert after["version"] > first[0]["version"]
    assert after["counters"][0]["staff"]["username"] == "teller1"
    staff = _snapshot(app, fresh_db.tokens["manager"])  # shares the branch's part, adds its own queue
    assert len(reads) == 2
    assert staff["queue"][0]["waiting"] == 1
