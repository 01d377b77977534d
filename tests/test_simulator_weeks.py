"""Weeks of simulated days on one database (issue 18): the customers complain through the complaint
register while they wait, the days follow each other on one SQLite file, and the range report of
that file adds up to what the register has. On the small branch (tests/sim_small.toml: two hours,
Monday to Friday), with few customers and a coarse alert tick so that ten days take seconds."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from server.cli import main
from server.models import Alert, Complaint, Device, Service, Staff, Ticket
from server.models import Counter as CounterRow
from server.simulator.run import Result
from server.simulator.weeks import Weeks, simulate_weeks
from server.simulator.world import World

SMALL = Path(__file__).with_name("sim_small.toml")
FIRST = date(2026, 11, 23)  # a Monday
WEEKDAYS = [FIRST + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]
WARNING_WINDOW = timedelta(minutes=30)  # server/lobby/complaints.py: a card resolved this long before still warned


def small_world() -> World:
    # Few customers but slow tellers, so that some wait past their patience every week.
    return World(tickets=45, reserve_counters=1, slow_teller_share=0.6, slow_call_chance=0.4)


def config_copy(folder: Path) -> Path:
    """The small branch's config in a folder of its own: demo accounts and their log-ins go to its instance/."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(SMALL, folder / "sim_small.toml"))


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Weeks, list[Result]]:
    database = tmp_path_factory.mktemp("weeks") / "weeks.db"
    days: list[Result] = []
    result = simulate_weeks(weeks=2, database=database, config_path=SMALL, seed=11, start=FIRST,
                            world=small_world(), tick_s=30, on_day=lambda i, n, day, r: days.append(r))
    return result, days


def rows(database: Path, model: Any) -> list[Any]:
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            return list(session.scalars(select(model)))
    finally:
        engine.dispose()


def test_ten_weekdays_on_one_database_each_ending_properly(weeks: tuple[Weeks, list[Result]]) -> None:
    result, days = weeks
    assert [day for day, _ in result.days] == WEEKDAYS  # Monday to Friday, the weekend skipped
    tickets = rows(result.database, Ticket)
    per_day = Counter(t.business_day for t in tickets)
    assert sorted(per_day) == WEEKDAYS and min(per_day.values()) > 10
    # Ticket numbers restart every day: each day's first ticket of a service is its number 1.
    firsts: dict[tuple[date, int], int] = {}
    for t in tickets:
        key = (t.business_day, t.service_id)
        firsts[key] = min(firsts.get(key, t.sequence), t.sequence)
    assert set(firsts.values()) == {1}
    assert len({t.number for t in tickets}) < len(tickets)  # the same numbers come back on later days
    # Each day ended as a branch day ends: nobody left waiting or at a counter, every counter closed,
    # nothing for the next day's housekeeping to clear.
    assert {t.status for t in tickets} <= {"done", "no_show", "cancelled"}
    assert {c.state for c in rows(result.database, CounterRow)} == {"closed"}
    assert result.left_over == 0
    assert all(d.summary["refused_actions"] == {} for d in days)
    # One staff row per counter and one manager, one kiosk, for all ten days.
    assert sorted(s.username for s in rows(result.database, Staff)) == [
        "sim-manager", "sim-teller-1", "sim-teller-2", "sim-teller-3", "sim-teller-4"]
    assert [d.name for d in rows(result.database, Device)] == ["sim-kiosk"]
    assert len({d.summary["seed"] for d in days}) == 10


def test_the_register_holds_every_customer_whose_patience_ran_out_while_waiting(
        weeks: tuple[Weeks, list[Result]]) -> None:
    result, days = weeks
    complaints = rows(result.database, Complaint)
    tickets = {t.id: t for t in rows(result.database, Ticket)}
    recorded = {c.ticket_id for c in complaints}
    assert len(recorded) == len(complaints) > 5  # one complaint per customer, several over the weeks
    # The recount, from each day's tickets and each customer's patience: still waiting (never called,
    # or called later) when their patience ran out, before closing sent them home.
    expected = set()
    for day in days:
        day_s = day.summary["day_s"]
        for t in day.tickets:
            runs_out = t.issued + day.patience[t.id]
            if runs_out < day_s and (t.called is None or t.called > runs_out):
                expected.add(t.id)
    assert recorded == expected
    assert sum(d.summary["register"]["complaints"] for d in days) == len(complaints)
    # The kind from what the customer saw at the kiosk; recorded by the lobby manager, at the moment
    # the patience ran out (on the branch clock), during the customer's wait.
    staff = {s.id: s.username for s in rows(result.database, Staff)}
    for c in complaints:
        ticket = tickets[c.ticket_id]
        assert c.kind == ("short_queue_wait" if ticket.people_ahead <= 2 else "other")
        assert staff[c.recorded_by] == "sim-manager"
        assert ticket.issued_at < c.recorded_at and (ticket.called_at is None or c.recorded_at < ticket.called_at)
    assert {c.kind for c in complaints} == {"short_queue_wait", "other"}


def test_each_complaints_warning_is_the_first_alert_on_its_ticket_or_its_service_before_it(
        weeks: tuple[Weeks, list[Result]]) -> None:
    result, days = weeks
    alerts = rows(result.database, Alert)
    codes = {s.id: s.code for s in rows(result.database, Service)}
    service_of = {t.id: codes[t.service_id] for t in rows(result.database, Ticket)}
    views = [view for day in days for view in day.recorded]
    assert len(views) == len(rows(result.database, Complaint))

    def about(alert: Alert, ticket_id: int) -> bool:
        """A card on the customer's ticket, or on their service's waits (service level, nobody serving)."""
        return alert.ticket_id == ticket_id or (
            alert.subject_kind == "service" and alert.subject_id == service_of[ticket_id]
            and alert.rule in ("service_level", "unstaffed_service"))

    for view in views:
        at = datetime.fromisoformat(view["recorded_at"])
        before = sorted((a for a in alerts if about(a, view["ticket"]["id"])
                         and _utc(a.raised_at) <= at
                         and (a.resolved_at is None or _utc(a.resolved_at) >= at - WARNING_WINDOW)),
                        key=lambda a: (a.raised_at, a.id))
        if not before:
            assert view["warned"] is None
            continue
        first = before[0]
        assert (view["warned"]["alert"], view["warned"]["rule"]) == (first.id, first.rule)
        assert view["warned"]["lead_s"] == int((at - _utc(first.raised_at)).total_seconds())
    warned = sum(1 for v in views if v["warned"])
    assert 0 < warned < len(views)
    assert sum(d.summary["register"]["preceded_by_alert"] for d in days) == warned


def test_the_range_report_of_the_filled_database_counts_the_registers_complaints_per_week(
        weeks: tuple[Weeks, list[Result]], tmp_path: Path) -> None:
    """The database comes up as a server's would (migrations, demo accounts), and the manager's range
    report has the weeks' complaints as the register recorded them."""
    from server import create_app
    from server.demo import ensure_demo_accounts

    result, days = weeks
    database = tmp_path / "copy.db"
    shutil.copy(result.database, database)
    assert result.ended_at is not None
    app = create_app(config_copy(tmp_path / "site"), server={"database_url": f"sqlite:///{database}"},
                     clock={"mode": "manual", "start": result.ended_at.isoformat()})
    credentials = ensure_demo_accounts(app.extensions["callwise"], "copy-credentials.json")
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "manager",
                                                    "password": credentials["staff"]["manager"]})
    assert login.status_code == 200
    answer = client.get(f"/api/v1/reports/range?from={WEEKDAYS[0]}&to={WEEKDAYS[-1]}",
                        headers={"Authorization": f"Bearer {login.get_json()['token']}"})
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    by_week: dict[str, list[dict[str, Any]]] = {}
    for view in (v for day in days for v in day.recorded):
        year, week, _ = date.fromisoformat(view["recorded_at"][:10]).isocalendar()
        by_week.setdefault(f"{year}-W{week:02d}", []).append(view)
    assert [(w["week"], w["complaints_total"], w["complaints_warned"]) for w in report["weeks"]] == [
        (week, len(views), sum(1 for v in views if v["warned"])) for week, views in sorted(by_week.items())]
    assert [(w["week"], w["complaints"], w["preceded_by_alert"]) for w in result.weekly()] == [
        (w["week"], w["complaints_total"], w["complaints_warned"]) for w in report["weeks"]]
    assert report["total"]["tickets"] == sum(d.summary["tickets"] for d in days)
    # Read back all at once, each complaint says what it said when it was recorded, one by one.
    recorded = [view for day in days for view in day.recorded]
    assert [(c["id"], c["ticket"], c["warned"]) for c in report["complaints"]] == [
        (v["id"], v["ticket"], v["warned"]) for v in recorded]
    # The incidents the report counts from the history are those the simulator counted each day (its
    # figures read only the day's own tickets, counter events and alerts from the shared database).
    assert [d["incidents_total"] for d in report["days"] if d["tickets"]] == [
        d.summary["incidents"]["total"] for d in days]
    assert report["total"]["complaints"]["short_queue_wait"] + report["total"]["complaints"]["other"] == (
        report["total"]["complaints_total"])


def test_the_command_fills_a_week_and_says_how_to_serve_it(tmp_path: Path) -> None:
    from server.cli import _open_app, _serving

    config = str(config_copy(tmp_path / "site"))
    database = str(tmp_path / "week.db")
    out = tmp_path / "week.json"
    answer = CliRunner().invoke(main, ["simulate-weeks", "--weeks", "1", "--database", database, "--config", config,
                                       "--tickets", "20", "--tick", "30", "--start", "2026-11-30", "--quiet",
                                       "--json", str(out)])
    assert answer.exit_code == 0, answer.output
    filled = json.loads(out.read_text())
    assert [d["date"] for d in filled["days"]] == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03",
                                                  "2026-12-04"]
    assert [w["week"] for w in filled["weeks"]] == ["2026-W49"]
    at = filled["serve_at"]
    assert at.startswith("2026-12-04T11:") and at.endswith("+08:00")  # after the Friday's closing, branch time
    assert f"python -m server serve --config {config} --database {database} --at {at}" in answer.output
    assert "/manager/report?from=2026-11-30&to=2026-12-04" in answer.output
    # The printed serve command's app: the filled database, the clock standing at the end of Friday,
    # the demo manager's log-in.
    overrides = _serving(database, at)
    from server.config import load_config

    app, credentials = _open_app(config, overrides, load_config(config, overrides))
    assert credentials is not None and credentials["file"] == "week-credentials.json"
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"username": "manager", "password": credentials["staff"]["manager"]}
                        ).get_json()["token"]
    clock = client.get("/api/v1/clock", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert datetime.fromisoformat(clock["now"]) == datetime.fromisoformat(at)
    assert (tmp_path / "site" / "instance" / "week-credentials.json").exists()
    # A database that exists is filled only with --replace.
    (tmp_path / "taken.db").write_bytes(b"")
    again = CliRunner().invoke(main, ["simulate-weeks", "--database", str(tmp_path / "taken.db"), "--config", config])
    assert again.exit_code == 1 and "taken.db exists: --replace fills it afresh" in again.output


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
