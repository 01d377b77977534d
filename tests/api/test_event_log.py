"""The event log: one row per change, and it always replays to the current state."""

from __future__ import annotations

from sqlalchemy import select

from server.models import Counter, Event, Ticket
from server.queueing.machine import LoggedChange, replay


def replayed(rt):  # type: ignore[no-untyped-def]
    with rt.reading() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        states = replay(LoggedChange(e.entity, e.entity_id, e.action, e.from_state, e.to_state) for e in events)
        tickets = {("ticket", t.id): t.status for t in session.scalars(select(Ticket))}
        counters = {("counter", c.id): c.state for c in session.scalars(select(Counter))}
    return states, tickets, counters, events


def test_every_change_is_one_event_row_with_who_and_from_to(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "complete", json={"outcome": "error"})
    _, _, _, events = replayed(rt)
    rows = [(e.entity, e.action, e.from_state, e.to_state) for e in events]
    assert rows == [
        ("ticket", "issue", None, "waiting"),
        ("counter", "open", "closed", "idle"),
        ("ticket", "call", "waiting", "called"),
        ("counter", "call_next", "idle", "calling"),
        ("ticket", "start", "called", "serving"),
        ("counter", "start", "calling", "serving"),
        ("ticket", "complete", "serving", "done"),
        ("counter", "complete", "serving", "idle"),
    ]
    assert events[0].device_id is not None and events[0].staff_id is None
    assert all(e.staff_id is not None for e in events[1:])
    assert events[-2].data["outcome"] == "error"


def test_the_log_replays_to_the_current_state_after_a_busy_morning(api, rt, clock):
    for service in "AABBCADCBA":
        api.issue(service)
    for number, teller in ((1, "teller1"), (2, "teller2"), (3, "teller3"), (4, "teller4")):
        api.open(number, teller)
    api.serve_one(1, "teller1")
    api.ok(2, "call-next", "teller2")
    api.no_show(2, "teller2")
    api.ok(3, "call-next", "teller3")
    api.ok(3, "transfer", "teller3", {"service": "D"})
    api.ok(4, "call-next", "teller4")
    api.ok(4, "recall", "teller4")
    api.ok(4, "start", "teller4")
    api.ok(4, "request-help", "teller4")
    api.ok(1, "pause", "teller1", {"reason": "meeting"})
    clock.advance(300)
    api.ok(1, "resume", "teller1")
    api.ok(2, "close", "teller2")
    states, tickets, counters, _ = replayed(rt)
    assert {k: v for k, v in states.items() if k[0] == "ticket"} == tickets
    for key, state in counters.items():
        assert states.get(key, "closed") == state


def test_every_message_of_a_change_carries_the_branchs_event_log_version(api, rt):
    from server.runtime import RecordingPublisher

    recorder = RecordingPublisher()
    rt.publisher = recorder
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    with rt.reading() as session:
        newest = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    called = [payload for event, payload, _ in recorder.sent if event == "ticket_called"]
    calling = [payload for event, payload, _ in recorder.sent if event == "counter_changed"][-1]
    assert called[-1]["version"] == calling["version"] == newest
    versions = [payload["version"] for _, payload, _ in recorder.sent if "version" in payload]
    assert versions == sorted(versions)


def test_the_sockets_get_a_turn_between_a_changes_messages(api, rt):
    from server.runtime import RecordingPublisher

    class Turns(RecordingPublisher):
        def between_messages(self) -> None:
            self.sent.append(("(pause)", {}, []))

    recorder = Turns()
    rt.publisher = recorder
    api.issue("A")
    api.open(1, "teller1")
    recorder.sent.clear()
    api.ok(1, "call-next")
    order = [event for event, _, _ in recorder.sent]
    # ticket_called leaves before queue_changed is queued: a thousand displays hear the call first.
    assert order == ["ticket_changed", "(pause)", "ticket_called", "(pause)", "counter_changed", "(pause)",
                     "queue_changed"]
