"""Versions per audience: every change's events say which screens heard it, and the heartbeat tells
each family of screens where its own part of the event log stands. A screen resynchronises only
when it really missed something (server/runtime.py, server/realtime.py, server/static/js/live.js)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import select

from server import realtime
from server.models import Event
from server.realtime import socketio
from server.rooms import Audience
from server.runtime import NullPublisher


class Screen:
    """A Socket.IO test client that keeps everything it received."""

    def __init__(self, app, auth) -> None:  # type: ignore[no-untyped-def]
        self.client = socketio.test_client(app, auth=auth)
        assert self.client.is_connected()
        self.received: list[tuple[str, dict]] = []
        [snapshot] = self.heard("state_snapshot")
        self.seen = snapshot["version"]

    def heard(self, event: str) -> list[dict]:
        self.received += [(m["name"], m["args"][0]) for m in self.client.get_received()]
        return [payload for name, payload in self.received if name == event]

    def disconnect(self) -> None:
        self.client.disconnect()


def _connect(app, auth):  # type: ignore[no-untyped-def]
    screen = Screen(app, auth)
    return screen, screen.seen


def _heard(screen, event):  # type: ignore[no-untyped-def]
    return screen.heard(event)


def _newest(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.reading() as session:
        return session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))


def test_each_event_records_which_screens_heard_its_change(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "complete", json={"outcome": "done"})
    with rt.reading() as session:
        rows = [(e.entity, e.action, e.audiences) for e in session.scalars(select(Event).order_by(Event.id))]
    A = Audience
    every = A.DISPLAYS | A.KIOSKS | A.STAFF | A.PHONES
    assert rows == [
        ("ticket", "issue", every),
        ("counter", "open", every),
        ("ticket", "call", every | A.HOLDER),
        ("counter", "call_next", every | A.HOLDER),
        ("ticket", "start", A.STAFF | A.HOLDER),
        ("counter", "start", A.STAFF | A.HOLDER),
        ("ticket", "complete", A.STAFF | A.HOLDER),
        ("counter", "complete", A.STAFF | A.HOLDER),
    ]


def test_after_a_start_and_a_finish_the_displays_heartbeat_asks_nothing_but_staff_catch_up(app, api, rt, fresh_db):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    display, display_seen = _connect(app, {"token": fresh_db.tokens["display"]})
    kiosk, kiosk_seen = _connect(app, {"token": fresh_db.tokens["kiosk"]})
    manager, _ = _connect(app, {"token": fresh_db.tokens["manager"]})
    api.ok(1, "start")
    api.ok(1, "complete", json={"outcome": "done"})
    manager_seen = max(m["version"] for m in _heard(manager, "counter_changed") + _heard(manager, "ticket_changed"))
    realtime.heartbeat(rt)
    [display_beat] = _heard(display, "heartbeat")
    [kiosk_beat] = _heard(kiosk, "heartbeat")
    [manager_beat] = _heard(manager, "heartbeat")
    # The display heard nothing of the start and the finish, and is not told it missed anything.
    assert _heard(display, "counter_changed") == []
    assert display_beat["version"] <= display_seen
    assert kiosk_beat["version"] <= kiosk_seen
    # Staff heard both: their version is the newest, and they have seen it.
    assert manager_beat["version"] == _newest(rt) == manager_seen
    for client in (display, kiosk, manager):
        client.disconnect()


def test_a_display_that_lost_a_call_is_told_at_the_next_heartbeat(app, api, rt, fresh_db):
    api.issue("A")
    api.open(1, "teller1")
    display, seen = _connect(app, {"token": fresh_db.tokens["display"]})
    publisher = rt.publisher
    rt.publisher = NullPublisher()  # the message queue is down: the call is announced to nobody
    api.ok(1, "call-next")
    rt.publisher = publisher
    realtime.heartbeat(rt)
    assert _heard(display, "ticket_called") == []
    [beat] = _heard(display, "heartbeat")
    assert beat["version"] > seen
    display.disconnect()


def test_a_phone_hears_the_version_of_a_change_only_its_own_ticket_heard(app, api, rt, fresh_db):
    ticket = api.issue("A")
    other = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    phone, seen = _connect(app, {"ticket": ticket["token"]})
    waiting_phone, waiting_seen = _connect(app, {"ticket": other["token"]})
    publisher = rt.publisher
    rt.publisher = NullPublisher()  # the start is lost on the way to the phone
    api.ok(1, "start")
    rt.publisher = publisher
    realtime.heartbeat(rt)
    beats = _heard(phone, "heartbeat")
    own = [b for b in beats if b.get("audience") == "ticket"]
    assert [b["version"] for b in own] == [_newest(rt)] and own[0]["version"] > seen
    # The other customer's phone is told nothing newer: the start was none of its business.
    assert all(b["version"] <= waiting_seen for b in _heard(waiting_phone, "heartbeat"))
    phone.disconnect()
    waiting_phone.disconnect()


def test_answering_a_help_request_is_recorded_by_the_queueing_layer_and_its_messages_carry_the_version(api, rt):
    from server.runtime import RecordingPublisher

    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "request-help")
    [alert] = [a for a in api.get("/alerts", who="manager").get_json() if a["rule"] == "help_requested"]
    recorder = RecordingPublisher()
    rt.publisher = recorder
    assert api.post(f"/alerts/{alert['id']}/respond", who="manager", json={"state": "done"}).status_code == 200
    newest = _newest(rt)
    with rt.reading() as session:
        answered = session.get(Event, newest)
        assert (answered.entity, answered.action) == ("counter", "help_answered")
    sent = {event: payload for event, payload, _ in recorder.sent}
    assert sent["counter_changed"]["version"] == sent["ticket_changed"]["version"] == newest
    assert sent["counter_changed"]["help_requested_at"] is None


def test_the_queueing_layer_imports_nothing_of_the_alerts():
    code = ("import sys, server.queueing.counters, server.queueing.tickets, server.queueing.reads;"
            "print(sorted(m for m in sys.modules if m.startswith('server.alerts')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
