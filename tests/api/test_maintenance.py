"""Day rollover, event retention and backups."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.maintenance import archive_events, backup_sqlite, daily
from server.models import Event, Ticket
from server.queueing.machine import LoggedChange, replay


def test_tickets_left_waiting_are_closed_as_day_end_once_the_branch_opens_the_next_day(api, rt, clock):
    stale = api.issue("A")
    api.open(1, "teller1")
    served = api.issue("A")
    api.ok(1, "call-next")  # the first is called, the second waits overnight
    assert served["number"] == "A002"
    clock.advance(timedelta(hours=23, minutes=30).total_seconds())  # 08:30 the next day: not open yet
    assert daily(rt) == {"closed": 0, "archived": 0}
    assert api.ticket(served["token"])["status"] == "waiting"
    clock.advance(timedelta(minutes=30).total_seconds())  # 09:00: opening time
    assert daily(rt)["closed"] == 1
    closed = api.ticket(served["token"])
    assert closed["status"] == "cancelled"
    assert api.ticket(stale["token"])["status"] == "called"  # a customer at a counter is not cancelled
    with rt.reading() as session:
        reason = session.scalar(select(Ticket.cancel_reason).where(Ticket.token == served["token"]))
        assert reason == "day_end"
    assert daily(rt)["closed"] == 0
    assert api.issue("A")["number"] == "A001"  # the new day's numbering
    assert api.get("/queue", "teller1").get_json()["services"][0]["waiting"] == 1


def test_the_day_end_closing_is_in_the_event_log(api, rt, clock):
    api.issue("B")
    clock.advance(timedelta(days=1).total_seconds())
    daily(rt)
    with rt.reading() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        states = replay(LoggedChange(e.entity, e.entity_id, e.action, e.from_state, e.to_state) for e in events)
    assert list(states.values()) == ["cancelled"]
    assert events[-1].data["reason"] == "day_end"


def test_old_events_are_archived_to_gzipped_json_lines_then_removed(api, rt, clock, tmp_path):
    api.issue("A")
    api.issue("B")
    clock.advance(timedelta(days=40).total_seconds())
    api.issue("A")  # a recent event that stays
    moved = archive_events(rt, 30, folder=tmp_path / "archive")
    assert moved == 2
    with rt.reading() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
    [archive] = list((tmp_path / "archive").glob("events-*.jsonl.gz"))
    with gzip.open(archive, "rt", encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert [line["action"] for line in lines] == ["issue", "issue"]
    assert archive_events(rt, 30, folder=tmp_path / "archive") == 0


def test_deleting_instead_of_archiving_writes_no_file(api, rt, clock, tmp_path):
    api.issue("A")
    clock.advance(timedelta(days=40).total_seconds())
    assert archive_events(rt, 30, "delete", folder=tmp_path / "archive") == 1
    assert not (tmp_path / "archive").exists()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_online_backup_is_a_complete_consistent_copy(api, rt, tmp_path, backend):
    for _ in range(5):
        api.issue("A")
    written = backup_sqlite(rt.db.url, tmp_path / "backups")
    copy = sqlite3.connect(written)
    assert copy.execute("SELECT count(*) FROM tickets").fetchone()[0] == 5
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()


def test_backup_refuses_postgresql(tmp_path):
    with pytest.raises(ValueError, match="pg_dump"):
        backup_sqlite("postgresql+psycopg://x@localhost/db", tmp_path)
