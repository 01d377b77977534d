"""Estimated waits: from today's real service times and the counters open now."""

from __future__ import annotations


def test_estimate_uses_expected_minutes_before_any_service_today(api):
    for _ in range(4):
        api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    fifth = api.issue("A")
    # 4 ahead, 2 counters, 3 min each -> 6 min, plus a share of one service (both counters free: none)
    assert fifth["estimated_wait_s"] == 4 * 180 // 2


def test_more_open_counters_shorten_the_estimate(api):
    for _ in range(6):
        api.issue("A")
    api.open(1, "teller1")
    one = api.get("/services").get_json()[0]["estimated_wait_s"]
    api.open(2, "teller2")
    two = api.get("/services").get_json()[0]["estimated_wait_s"]
    assert two < one


def test_paused_counters_do_not_count(api):
    for _ in range(6):
        api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    both = api.get("/services").get_json()[0]["estimated_wait_s"]
    api.ok(2, "pause", "teller2", {"reason": "break"})
    assert api.get("/services").get_json()[0]["estimated_wait_s"] > both


def test_estimate_learns_from_the_days_real_service_times(api, clock):
    api.open(1, "teller1")
    for _ in range(6):
        api.issue("A")
    for _ in range(6):  # every customer takes 60 s at the counter, not the expected 3 min
        api.ok(1, "call-next")
        clock.advance(10)
        api.ok(1, "start")
        clock.advance(50)
        api.ok(1, "complete")
    for _ in range(3):
        api.issue("A")
    ticket = api.issue("A")
    assert ticket["people_ahead"] == 3
    assert ticket["estimated_wait_s"] == 3 * 60  # 3 ahead x 60 s on one free counter


def test_live_estimate_shrinks_as_the_queue_moves(api, clock):
    api.open(1, "teller1")
    tickets = [api.issue("A") for _ in range(4)]
    last = tickets[-1]
    before = api.ticket(last["token"])["estimated_wait_s"]
    api.serve_one(1, "teller1")
    after = api.ticket(last["token"])
    assert after["position"] == 3
    assert after["estimated_wait_s"] < before


def test_services_tell_their_normal_service_time_the_overrun_alert_uses(api, clock):
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert services["A"]["normal_service_s"] == 180  # expected minutes until enough of the day's
    api.open(1, "teller1")
    for _ in range(5):
        api.issue("A")
        api.ok(1, "call-next")
        api.ok(1, "start")
        clock.advance(100)
        api.ok(1, "complete")
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert services["A"]["normal_service_s"] == 100


def _finished_today(rt, clock):
    from server.queueing.figures import finished_today
    from server.queueing.numbering import day_start_utc

    config = rt.config
    since = day_start_utc(clock.now().astimezone(config.tz).date(), config.tz)
    with rt.reading() as session:
        return finished_today(session, rt.default_branch_id, since, config.queue.service_time_window)


def _serve(api, clock, seconds):
    api.ok(1, "call-next")
    api.ok(1, "start")
    clock.advance(seconds)
    api.ok(1, "complete")


def test_the_days_service_figures_are_read_again_only_after_a_finish(api, rt, clock):
    service_a = rt.config.services[0]
    api.open(1, "teller1")
    for _ in range(3):
        api.issue("A")
    _serve(api, clock, 100)
    first = _finished_today(rt, clock)
    api.issue("A")
    api.ok(1, "call-next")  # changes that finish nobody leave the figures as they were
    assert _finished_today(rt, clock) is first
    api.ok(1, "start")
    clock.advance(40)
    api.ok(1, "complete")
    second = _finished_today(rt, clock)
    assert second is not first
    (service_id,) = second.medians
    assert service_a.code == "A" and second.medians[service_id] == (70.0, 2)
    assert sorted(second.cycles[service_id]) == [40.0, 100.0]


def test_a_finish_rolled_back_leaves_no_figures_behind(api, rt, clock):
    from datetime import timedelta

    from sqlalchemy import select

    from server.models import Ticket
    from server.queueing.figures import finished_today
    from server.queueing.numbering import day_start_utc

    api.open(1, "teller1")
    api.issue("A")
    second = api.issue("A")
    _serve(api, clock, 100)
    api.ok(1, "call-next")
    api.ok(1, "start")
    # A write transaction finishes the second ticket (500 s of service), reads the figures, and
    # rolls back: what it computed from its own uncommitted finish must not be kept.
    config = rt.config
    now = clock.now()
    since = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    with rt.db.writing() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.id == second["id"])).one()
        ticket.status, ticket.finished_at = "done", now + timedelta(seconds=500)
        session.flush()
        seen = finished_today(session, rt.default_branch_id, since, config.queue.service_time_window)
        assert list(seen.medians.values()) == [(300.0, 2)]  # its own view: (100 + 500) / 2
    # The same ticket really finishes, after 40 s: the same count and newest id as the rolled-back read.
    clock.advance(40)
    api.ok(1, "complete")
    assert list(_finished_today(rt, clock).medians.values()) == [(70.0, 2)]


def test_when_the_days_customers_wait_longer_than_estimated_new_promises_take_the_bias_out(api, rt, clock):
    from sqlalchemy import select

    from server.models import Ticket

    api.open(1, "teller1")
    for _ in range(11):
        api.issue("A")  # raw estimates 0, 180, 360, ... (one free counter, 3 minutes a customer)
    for _ in range(11):  # each takes 100 s at the counter, but the counter calls only every 6 minutes
        clock.advance(260)
        api.ok(1, "call-next")
        api.ok(1, "start")
        clock.advance(100)
        api.ok(1, "complete")
    late = [api.issue("A") for _ in range(3)][-1]  # third in line: raw 2 x 100 s
    with rt.reading() as session:
        row = session.scalar(select(Ticket).where(Ticket.id == late["id"]))
        assert row.raw_estimate_s == 200
    # Ten customers promised at least a minute waited 22,400 s in all against 9,900 s estimated.
    assert late["estimated_wait_s"] == round(200 * 22400 / 9900) == row.estimated_wait_s


def test_the_calibration_can_be_turned_off(app_factory, fresh_db):
    from tests.conftest import Api

    app = app_factory(queue={"calibrate_estimates": False})
    api = Api(app.test_client(), fresh_db.tokens)
    clock = app.extensions["callwise"].clock
    api.open(1, "teller1")
    for _ in range(11):
        api.issue("A")
    for _ in range(11):
        clock.advance(260)
        api.ok(1, "call-next")
        api.ok(1, "start")
        clock.advance(100)
        api.ok(1, "complete")
    assert [api.issue("A") for _ in range(3)][-1]["estimated_wait_s"] == 200


def test_the_days_figures_read_since_the_last_finish_agree_with_the_whole_day_read_again(api, rt, clock):
    """A change after a finish reads only the tickets finished since the newest it had, and merges
    them in (issue 17); an undone no-show (a ticket no longer finished) makes the merge disagree
    with the day's count, and the day is read whole. Each time, the figures equal a fresh read."""
    from server.queueing import figures

    def fresh():
        with figures.LOCK:
            figures._FINISHED.clear()
        return _finished_today(rt, clock)

    api.open(1, "teller1")
    for _ in range(8):
        api.issue("A")
    seen = []
    for seconds in (100, 40, 250, 75):
        _serve(api, clock, seconds)
        merged = _finished_today(rt, clock)
        seen.append(merged)
        assert merged == fresh()
    api.ok(1, "call-next")
    clock.advance(90)
    api.ok(1, "no-show")
    assert _finished_today(rt, clock) == fresh()
    api.ok(1, "undo")  # the no-show is taken back: the ticket is called again, not finished
    api.ok(1, "start")
    clock.advance(30)
    api.ok(1, "complete")
    after_undo = _finished_today(rt, clock)
    assert after_undo == fresh()
    (service_id,) = after_undo.medians
    assert after_undo.medians[service_id] == (75.0, 5)  # 100, 40, 250, 75 and the 30 s after the undo
    assert seen[0] != seen[-1]
