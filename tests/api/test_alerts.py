"""One scenario per kind of complaint, driven through HTTP on the manual clock, plus the alert
lifecycle: escalation, resolution, acknowledgement, reminders, no duplicates."""

from __future__ import annotations

from collections import Counter as Tally

from sqlalchemy import func, select

from server.models import Alert, Service
from tests.conftest import Api


def advance(api, seconds):  # type: ignore[no-untyped-def]
    response = api.post("/clock/advance", "manager", json={"seconds": seconds})
    assert response.status_code == 200


def open_alerts(api, rule=None):  # type: ignore[no-untyped-def]
    alerts = api.get("/alerts?state=open", "manager").get_json()
    return [a for a in alerts if rule is None or a["rule"] == rule]


def all_alerts(api, rule):  # type: ignore[no-untyped-def]
    return [a for a in api.get("/alerts?state=all", "manager").get_json() if a["rule"] == rule]


def test_idle_counter_warns_at_60s_escalates_at_180s_and_resolves_on_call_next(api):
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 59)
    assert open_alerts(api, "idle_counter") == []
    advance(api, 1)
    [alert] = open_alerts(api, "idle_counter")
    assert (alert["severity"], alert["subject"], alert["counter"]) == ("warning", {"kind": "counter", "id": 1,
                                                                                  "label": "1"}, 1)
    assert alert["messages"]["en"] == "Counter 1 has been idle for 1 min with 1 customer waiting"
    advance(api, 120)
    [alert] = open_alerts(api, "idle_counter")
    assert alert["severity"] == "critical"
    assert alert["escalated_at"] is not None
    api.ok(1, "call-next")
    assert open_alerts(api, "idle_counter") == []
    [history] = all_alerts(api, "idle_counter")
    assert history["resolved_at"] is not None and history["severity"] == "critical"


def test_short_queue_is_raised_when_its_projected_wait_crosses_the_line_with_lead_and_critical_at_600s(api):
    api.open(1, "teller1")
    api.issue("A")
    api.ok(1, "call-next")
    api.ok(1, "start")  # the only A counter is busy with a transaction that turns out long
    mine = api.issue("A")
    assert mine["people_ahead"] == 0
    # Usually 3 minutes a customer: while the transaction could still end any moment, nothing to
    # say. Once it has run over by as long as the customer has left (at 390 s: 210 s over, 210 s to
    # the line), the projection reaches the line.
    advance(api, 389)
    assert open_alerts(api, "short_queue_long_wait") == []
    advance(api, 1)
    [alert] = open_alerts(api, "short_queue_long_wait")
    assert alert["subject"]["label"] == mine["number"]
    assert alert["lead_time_s"] == 210
    assert (alert["action"]["kind"], alert["action"]["counter"], alert["action"]["ticket"]["number"]) == (
        "serve_ticket", 1, mine["number"])
    assert alert["action"]["messages"]["en"] == f"Ask counter 1 (Teller1) to take {mine['number']} next"
    advance(api, 210)
    [alert] = open_alerts(api, "short_queue_long_wait")
    assert alert["severity"] == "critical"
    assert alert["lead_time_s"] == 210  # the lead time is the one at raise


def test_paused_ratio_two_of_four_counters_paused_for_5_minutes_with_people_waiting(api):
    for number, teller in ((1, "teller1"), (2, "teller2"), (3, "teller3"), (4, "teller4")):
        api.open(number, teller)
    api.ok(3, "pause", "teller3", {"reason": "break"})
    api.ok(4, "pause", "teller4", {"reason": "meeting"})
    api.issue("D")  # only counter 4 (paused) serves D, so no idle counter muddles the picture
    advance(api, 299)
    assert open_alerts(api, "paused_ratio") == []
    advance(api, 1)
    [alert] = open_alerts(api, "paused_ratio")
    assert alert["subject"] == {"kind": "branch", "id": "test", "label": "test"}
    api.ok(4, "resume", "teller4")
    assert open_alerts(api, "paused_ratio") == []


def test_overrun_of_a_3_minute_service_at_6_minutes(api):
    api.open(1, "teller1")
    ticket = api.issue("A")
    api.ok(1, "call-next")
    api.ok(1, "start")
    advance(api, 359)
    assert open_alerts(api, "service_overrun") == []
    advance(api, 1)
    [alert] = open_alerts(api, "service_overrun")
    assert (alert["subject"]["label"], alert["counter"]) == (ticket["number"], 1)
    api.ok(1, "complete")
    assert open_alerts(api, "service_overrun") == []


def test_help_requested_is_raised_at_once_and_only_done_answers_it(api):
    api.open(2, "teller2")
    ticket = api.issue("A")
    api.ok(2, "call-next", "teller2")
    api.ok(2, "start", "teller2")
    api.ok(2, "request-help", "teller2", {"reason": "authorization", "text": "large withdrawal"})
    [alert] = open_alerts(api, "help_requested")
    assert alert["counter"] == 2
    assert api.ticket(ticket["token"])["help_state"] == "waiting"
    # Seeing it is not answering it: the teller still waits, the phone still says so.
    acked = api.post(f"/alerts/{alert['id']}/ack", "manager")
    assert acked.status_code == 200
    assert (acked.get_json()["acknowledged_by"], acked.get_json()["resolved_at"]) == ("manager", None)
    assert api.ticket(ticket["token"])["help_requested"] is True
    assert api.ticket(ticket["token"])["help_state"] == "waiting"
    coming = api.post(f"/alerts/{alert['id']}/respond", "manager", json={"state": "on_my_way"})
    assert coming.status_code == 200 and coming.get_json()["resolved_at"] is None
    assert api.ticket(ticket["token"])["help_state"] == "on_my_way"
    counter = next(c for c in api.get("/counters", "manager").get_json() if c["number"] == 2)
    assert counter["help"]["state"] == "on_my_way" and counter["help"]["text"] == "large withdrawal"
    assert api.post(f"/alerts/{alert['id']}/respond", "manager", json={"state": "on_my_way"}).status_code == 409
    done = api.post(f"/alerts/{alert['id']}/respond", "manager", json={"state": "done"})
    assert done.status_code == 200 and done.get_json()["resolved_at"] is not None
    assert open_alerts(api, "help_requested") == []
    assert api.ticket(ticket["token"])["help_requested"] is False
    assert api.post(f"/alerts/{alert['id']}/ack", "manager").status_code == 409


def test_only_a_help_request_is_responded_to_and_by_a_manager(api):
    api.open(2, "teller2")
    api.issue("A")
    api.ok(2, "call-next", "teller2")
    api.ok(2, "request-help", "teller2")
    [alert] = open_alerts(api, "help_requested")
    assert api.post(f"/alerts/{alert['id']}/respond", "teller2", json={"state": "done"}).status_code == 403
    assert api.post(f"/alerts/{alert['id']}/respond", "manager", json={"state": "later"}).status_code == 422
    assert api.post("/alerts/999999/respond", "manager", json={"state": "done"}).status_code == 404
    assert api.act(2, "request-help", "teller2", {"reason": "nap"}).status_code == 422


def test_help_requested_resolves_when_the_ticket_is_finished(api):
    api.open(2, "teller2")
    api.issue("A")
    api.ok(2, "call-next", "teller2")
    api.ok(2, "request-help", "teller2")
    assert len(open_alerts(api, "help_requested")) == 1
    api.no_show(2, "teller2")
    assert open_alerts(api, "help_requested") == []


def test_a_broken_promise_shows_on_the_customers_short_queue_card_not_as_a_card_of_its_own(api):
    api.open(4, "teller4")  # serves C and D; nobody serves A
    ticket = api.issue("A")
    promised = ticket["estimated_wait_at_issue_s"]
    margin = max(promised * 0.5, 300)
    advance(api, promised + margin + 1)  # the promise is broken, but the customer is not yet at risk
    [alert] = open_alerts(api)  # only that nobody serves A
    assert (alert["rule"], alert["subject"]["label"], alert["data"].get("joined")) == ("unstaffed_service", "A", None)
    advance(api, 510 - (promised + margin + 1))  # 510 s + 90 s once a counter opens: the line
    # Nobody serves A: the customer at risk (with the broken promise) is that service's one card.
    [same] = open_alerts(api)
    assert (same["id"], same["rule"]) == (alert["id"], "unstaffed_service")
    assert [part["rule"] for part in same["data"]["joined"]] == ["short_queue_long_wait"]
    assert "was told about" in same["messages"]["en"] and ticket["number"] in same["messages"]["en"]
    assert same["action"]["kind"] == "open_counter" and same["action"]["counter"] in (1, 2, 3)


def test_long_pause_past_the_limit_for_its_reason(api):
    api.open(1, "teller1")
    api.ok(1, "pause", json={"reason": "cash_replenish"})
    advance(api, 599)
    assert open_alerts(api, "long_pause") == []
    advance(api, 1)
    [alert] = open_alerts(api, "long_pause")
    assert alert["counter"] == 1
    api.ok(1, "resume")
    assert open_alerts(api, "long_pause") == []


def test_service_level_suggests_opening_a_counter(api):
    api.open(3, "teller3")  # serves C only third in its list
    for _ in range(5):
        api.issue("C")  # 10-minute service, target 20 minutes
    api.ok(3, "call-next", "teller3")  # busy: a free counter would be about to call, and no alert says more
    [alert] = open_alerts(api, "service_level")
    assert alert["subject"] == {"kind": "service", "id": "C", "label": "C"}
    assert alert["data"]["suggested_counters"] == [4]
    assert "counter 4" in alert["messages"]["en"]
    api.open(4, "teller4")
    assert open_alerts(api, "service_level") == []


def test_no_duplicate_open_alert_after_many_sweeps(api, rt):
    api.open(1, "teller1")
    api.issue("A")
    for _ in range(30):
        advance(api, 10)
        rt.alerts.sweep()
    with rt.reading() as session:
        rows = session.execute(select(Alert.rule, Alert.subject_id).where(Alert.resolved_at.is_(None))).all()
        assert max(Tally(rows).values()) == 1
        assert session.scalar(select(func.count()).select_from(Alert).where(Alert.rule == "idle_counter")) == 1


def test_acknowledging_silences_reminders_but_does_not_resolve(api, rt):
    from server.runtime import RecordingPublisher

    rt.publisher = recorder = RecordingPublisher()
    published = recorder.sent
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 180)
    [alert] = open_alerts(api, "idle_counter")
    advance(api, 300)  # renotify_critical_s
    reminders = [p for e, p, _ in published if e == "alert_raised" and p["reminder"]]
    assert [r["id"] for r in reminders] == [alert["id"]]
    assert api.post(f"/alerts/{alert['id']}/ack", "manager").status_code == 200
    advance(api, 900)
    assert len([p for e, p, _ in published if e == "alert_raised" and p["reminder"]]) == 1
    [still] = open_alerts(api, "idle_counter")
    assert still["acknowledged_at"] is not None and still["resolved_at"] is None


def test_alerts_are_for_managers_only(api):
    assert api.get("/alerts", "teller1").status_code == 403
    assert api.get("/alerts", "display").status_code == 403
    assert api.get("/alerts").status_code == 401
    assert api.get("/alerts?state=closed", "manager").status_code == 422
    assert api.post("/alerts/99999/ack", "manager").status_code == 404


def test_acknowledge_refuses_tellers(api):
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 60)
    [alert] = open_alerts(api, "idle_counter")
    assert api.post(f"/alerts/{alert['id']}/ack", "teller1").status_code == 403
    assert open_alerts(api, "idle_counter")[0]["acknowledged_at"] is None


def test_open_alerts_are_sorted_by_severity_then_age(api):
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 180)  # idle_counter critical
    api.open(4, "teller4")  # serves C and D: nobody waits for it, it is simply open
    api.open(2, "teller2")
    api.ok(2, "pause", "teller2", {"reason": "cash_replenish"})  # one of three paused: no paused_ratio
    advance(api, 600)  # long_pause warning (younger)
    rules = [(a["severity"], a["rule"]) for a in open_alerts(api) if a["rule"] in ("idle_counter", "long_pause")]
    assert rules == [("critical", "idle_counter"), ("warning", "long_pause")]


def test_at_risk_first_calls_the_at_risk_ticket_before_an_older_one_of_a_higher_priority_service(app_factory,
                                                                                               fresh_db):
    order = {}
    for policy in ("at_risk_first", "fifo"):
        app = app_factory(queue={"policy": policy})
        api = Api(app.test_client(), fresh_db.tokens)
        rt = app.extensions["callwise"]
        _reset(rt)
        api.open(2, "teller2")
        for _ in range(3):
            api.issue("B")
        crowded = api.issue("B")  # three ahead: never a short-queue risk
        for _ in range(3):
            api.serve_one(2, "teller2")
        api.ok(2, "close", "teller2")
        api.issue("A")  # nobody ahead
        advance(api, 400)  # 400 s of 600: the A customer is at risk, the older B one is not (three ahead)
        api.open(3, "teller3")  # serves B before A
        order[policy] = api.ok(3, "call-next", "teller3")["number"]
        assert crowded["people_ahead"] == 3
    assert order == {"at_risk_first": "A001", "fifo": "B004"}


def _reset(rt):  # type: ignore[no-untyped-def]
    """Both apps share the test's database: start each policy from an empty hall."""
    from sqlalchemy import delete, update

    from server.models import Counter, Event, Ticket, TicketSequence

    with rt.db.writing() as session:
        for table in (Alert, Event, Ticket, TicketSequence):
            session.execute(delete(table))
        session.execute(update(Counter).values(state="closed", staff_id=None, pause_reason=None,
                                               help_requested_at=None, opened_at=None))
        session.commit()


def test_at_risk_first_never_passes_an_older_ticket_of_the_same_service(api):
    api.open(4, "teller4")  # serves C (10 min) and D
    first = api.issue("C")
    second = api.issue("C")  # one ahead on one counter: projected at the 10-minute line at once
    assert [a["subject"]["label"] for a in open_alerts(api, "short_queue_long_wait")] == [second["number"]]
    assert api.ok(4, "call-next", "teller4")["number"] == first["number"]


def test_at_risk_first_detours_once_the_ticket_has_waited_and_for_the_shortest_service_first(api, rt, clock):
    # Warnings written by hand and no evaluation after changes: only the call order is under test.
    rt.change_listeners.clear()
    regular = api.issue("B")  # counter 3's first service
    long_one = api.issue("C")  # 10 minutes, at risk, waiting longest
    short_one = api.issue("A")  # 3 minutes, at risk
    api.open(3, "teller3")  # B, A, C
    with rt.db.writing() as session:
        for ticket in (long_one, short_one):
            session.add(Alert(branch_id=rt.default_branch_id, rule="short_queue_long_wait", subject_kind="ticket",
                              subject_id=str(ticket["id"]), severity="warning", message={"en": "risk"},
                              ticket_id=ticket["id"], raised_at=clock.now(), last_notified_at=clock.now()))
        session.commit()
    after = rt.config.queue.at_risk_after_s
    assert after > 0
    rt.clock.advance(after - 1)  # warned at issue, from a projection: no detour yet
    assert api.serve_one(3, "teller3")["number"] == regular["number"]
    rt.clock.advance(1)
    assert api.ok(3, "call-next", "teller3")["number"] == short_one["number"]  # the cheaper detour first


def test_a_day_of_instant_services_does_not_make_every_service_an_overrun(api):
    api.open(1, "teller1")
    for _ in range(6):
        api.issue("A")
        api.serve_one(1, "teller1")  # started and finished at the same instant
    api.issue("A")
    api.ok(1, "call-next")
    api.ok(1, "start")
    advance(api, 59)  # under twice the 30-second floor of a "normal" service
    assert open_alerts(api, "service_overrun") == []
    advance(api, 1)
    assert len(open_alerts(api, "service_overrun")) == 1


def test_a_sweep_of_an_unchanged_branch_reuses_its_snapshot_and_any_change_is_read_afresh(api, rt, monkeypatch):
    # The idle-counter alert is time-driven: it must still appear on a reused snapshot; and a change
    # (here: the call that ends the idleness) must be read from the database, whichever way it came.
    from server.alerts import engine as engine_module

    reads = []
    real = engine_module.load_snapshot
    monkeypatch.setattr(engine_module, "load_snapshot", lambda *a, **k: reads.append(1) or real(*a, **k))
    api.open(1, "teller1")
    api.issue("A")
    before = len(reads)
    for _ in range(30):
        advance(api, 2)  # 30 sweeps of a branch where nothing happens
    assert len(reads) == before  # not one full read
    [alert] = open_alerts(api, "idle_counter")
    assert alert["severity"] == "warning"
    # A change made behind the engine's back (no after-change evaluation: as if by another process).
    rt.change_listeners.clear()
    api.ok(1, "call-next")
    advance(api, 2)
    assert len(reads) == before + 1
    assert open_alerts(api, "idle_counter") == []


def test_only_a_short_queue_risk_still_preventable_puts_a_queue_first_not_a_crowded_wait(api, rt, clock):
    from server.queueing.reads import at_risk_service_ids

    api.open(4, "teller4")  # serves C and D
    for _ in range(3):
        api.issue("D")
    crowded = api.issue("D")  # three ahead: a long wait in a full hall, not complaint #3
    for _ in range(3):
        api.serve_one(4, "teller4")
    api.ok(4, "pause", "teller4", {"reason": "meeting"})
    too_late = api.issue("B")  # nobody ahead; it will pass the line
    config = rt.config
    with rt.reading() as session:
        ids = {row.code: row.id for row in session.scalars(select(Service))}

    def at_risk() -> set[int]:
        with rt.reading() as session:
            return at_risk_service_ids(session, config, rt.default_branch_id, clock.now())

    advance(api, 500)
    assert at_risk() == {ids["B"]}  # nobody ahead, 500 s waited: a detour can still prevent it
    lonely = api.issue("C")  # nobody ahead
    advance(api, 179)
    assert at_risk() == set()  # B is past the line; C has not waited long enough to need a detour
    advance(api, 1)
    assert at_risk() == {ids["C"]}
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert crowded["people_ahead"] == 3 and too_late["people_ahead"] == 0 and lonely["people_ahead"] == 0
    assert services["C"]["waiting"] == 1

def test_a_warning_that_resolved_does_not_come_back_as_a_new_card_within_the_hold_off_but_a_critical_does(api):
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 60)
    [first] = open_alerts(api, "idle_counter")
    api.ok(1, "pause", json={"reason": "break"})  # a moment's pause: the counter is not idle
    api.ok(1, "resume")
    assert open_alerts(api, "idle_counter") == []
    advance(api, 60)  # idle a minute again: the same story, no new card so soon
    assert open_alerts(api, "idle_counter") == []
    advance(api, 120)  # three minutes: critical, shown whatever the hold-off
    [again] = open_alerts(api, "idle_counter")
    assert again["severity"] == "critical" and again["id"] != first["id"]
    assert len(all_alerts(api, "idle_counter")) == 2


def test_every_alert_carries_an_action_that_names_who_does_what_where(api):
    api.open(1, "teller1")
    api.issue("A")
    advance(api, 60)
    [idle] = open_alerts(api, "idle_counter")
    assert idle["action"] == {
        "kind": "ask_to_call", "counter": 1, "teller": "Teller1", "ticket": None, "instruction": "call_next",
        "text": "请1号窗口（Teller1）叫号",
        "messages": {"zh": "请1号窗口（Teller1）叫号", "en": "Ask counter 1 (Teller1) to call the next customer"}}
    # The card's button does it: the instruction it names, sent to the counter it names.
    sent = api.post(f"/counters/{idle['action']['counter']}/instruct", "manager",
                    json={"kind": idle["action"]["instruction"], "alert": idle["id"]})
    assert sent.status_code == 201 and sent.get_json()["alert_id"] == idle["id"]


def test_a_sweep_reads_the_log_above_its_floor_by_the_primary_key_not_the_whole_history(rt, backend):
    """Every sweep (every 2 s) asks which branches changed since its floor. On SQLite, grouping by
    the branch column let the planner walk the whole (branch_id, id) index — the log's whole history,
    growing every day — instead of the few rows above the floor."""
    import pytest

    from server.alerts.loader import _mark_statements

    if backend != "sqlite":
        pytest.skip("PostgreSQL's planner takes the primary key range by itself")
    statement = _mark_statements()[3]
    with rt.db.engine.connect() as connection:
        sql = str(statement.compile(connection))
        plan = " | ".join(row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (0,)))
    assert "PRIMARY KEY" in plan and "ix_events_branch_id" not in plan, plan
