"""The branch keeps hours: no ticket is issued, and no wait promised, that no staffed counter can keep
before closing (API.md v2, "Hours and capacity"). The test branch opens 09:00-17:00 (last tickets
16:45) every day; the manual clock starts at 09:00 on Monday 30 November 2026."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import Ticket
from server.realtime import socketio
from tests.conftest import Api


def advance(api, seconds):  # type: ignore[no-untyped-def]
    assert api.post("/clock/advance", "manager", json={"seconds": seconds}).status_code == 200


def hours(api):  # type: ignore[no-untyped-def]
    return api.get("/branch").get_json()["hours"]


def tickets_stored(rt) -> int:  # type: ignore[no-untyped-def]
    with rt.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_the_branch_state_through_a_day_and_the_next_opening(api):
    branch = api.get("/branch").get_json()
    assert (branch["opening_time"], branch["last_ticket_time"], branch["closing_time"]) == ("09:00", "16:45", "17:00")
    assert hours(api) == {"state": "open", "opens_at": "2026-11-30T09:00:00+08:00",
                          "last_ticket_at": "2026-11-30T16:45:00+08:00", "closes_at": "2026-11-30T17:00:00+08:00",
                          "next_opening": "2026-12-01T09:00:00+08:00"}
    advance(api, 7.75 * 3600)  # 16:45
    assert hours(api)["state"] == "last_tickets_issued"
    advance(api, 15 * 60)  # 17:00
    closed = hours(api)
    assert (closed["state"], closed["opens_at"], closed["closes_at"]) == (
        "closed", "2026-12-01T09:00:00+08:00", "2026-12-01T17:00:00+08:00")
    advance(api, 15.5 * 3600)  # 08:30 the next morning
    assert (hours(api)["state"], hours(api)["opens_at"]) == ("before_opening", "2026-12-01T09:00:00+08:00")


def test_outside_hours_the_kiosk_gets_409_in_the_customers_language_and_nothing_is_stored(api, rt):
    api.issue("A")
    advance(api, 7.75 * 3600)  # 16:45: the last tickets have been issued
    late = api.post("/tickets", "kiosk", json={"service": "A", "lang": "en"})
    assert late.status_code == 409
    assert late.get_json()["error"] == {
        "code": "branch_closed", "message": "No more tickets today. Next opening: Tue 1 Dec, 09:00."}
    zh = api.post("/tickets", "kiosk", json={"service": "A"}).get_json()["error"]["message"]
    assert zh == "今日取号已结束。下次营业：12月1日（周二）09:00。"
    assert tickets_stored(rt) == 1
    advance(api, 16.25 * 3600)  # 09:00 the next day: numbering starts again
    assert api.issue("A")["number"] == "A001"


def test_before_opening_the_message_names_the_opening_time(app_factory, fresh_db):
    app = app_factory(clock={"start": "2026-11-30T08:40:00+08:00"})
    api = Api(app.test_client(), fresh_db.tokens)
    early = api.post("/tickets", "kiosk", json={"service": "A", "lang": "en"})
    assert (early.status_code, early.get_json()["error"]["message"]) == (
        409, "The branch opens at 09:00; tickets from then.")
    assert hours(api)["state"] == "before_opening"


def test_a_closed_day_and_a_holiday_are_closed_all_day(app_factory, fresh_db):
    # Monday 30 November is a holiday; the branch does not open on Tuesdays.
    app = app_factory(branch={"closed_dates": ["2026-11-30"], "open_days": ["mon", "wed", "thu", "fri", "sat"]})
    api = Api(app.test_client(), fresh_db.tokens)
    state = hours(api)
    assert (state["state"], state["opens_at"]) == ("closed", "2026-12-02T09:00:00+08:00")
    refused = api.post("/tickets", "kiosk", json={"service": "A", "lang": "en"})
    assert refused.get_json()["error"]["message"] == "The branch is closed. Next opening: Wed 2 Dec, 09:00."


def test_an_idempotent_retry_after_the_last_ticket_time_still_gets_its_ticket(api):
    first = api.post("/tickets", "kiosk", json={"service": "A"}, headers={"Idempotency-Key": "tap-000001"})
    advance(api, 7.75 * 3600)
    again = api.post("/tickets", "kiosk", json={"service": "A"}, headers={"Idempotency-Key": "tap-000001"})
    assert (again.status_code, again.get_json()["id"]) == (200, first.get_json()["id"])


def test_at_closing_waiting_tickets_are_cancelled_and_their_phones_hear_why(app, api, rt):
    served, left = api.issue("A"), api.issue("A")
    api.open(1, "teller1")
    api.serve_one(1, "teller1")
    phone = socketio.test_client(app, auth={"ticket": left["token"]})
    phone.get_received()
    advance(api, 8 * 3600)  # 17:00
    ticket = api.ticket(left["token"])
    assert (ticket["status"], ticket["cancel_reason"]) == ("cancelled", "branch_closed")
    heard = [m["args"][0] for m in phone.get_received() if m["name"] == "ticket_changed"]
    assert [(t["status"], t["cancel_reason"]) for t in heard] == [("cancelled", "branch_closed")]
    assert api.ticket(served["token"])["status"] == "done"


def test_no_wait_is_promised_that_no_staffed_counter_backs(api):
    unstaffed = api.issue("C")  # nobody serves C
    assert (unstaffed["estimated_wait_s"], unstaffed["fits_before_close"]) == (None, True)
    api.open(4, "teller4")  # C and D
    assert api.ticket(unstaffed["token"])["estimated_wait_s"] == 0  # next, and a counter is free
    api.ok(4, "pause", "teller4", {"reason": "meeting"})  # paused counts as staffed: it will come back
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert (services["C"]["staffed_counters"], services["A"]["staffed_counters"]) == (1, 0)
    assert services["C"]["estimated_wait_s"] is not None and services["A"]["estimated_wait_s"] is None


def test_a_ticket_whose_estimate_ends_after_closing_says_so(api):
    api.open(4, "teller4")  # D: 25 minutes a customer
    advance(api, 6 * 3600)  # 15:00
    tickets = [api.issue("D") for _ in range(4)]
    # On the safe side: half again the estimate plus one customer's 25 minutes. The third: 75 + 25
    # minutes, 16:40; the fourth, estimated at 75 minutes: 137.5 minutes, after closing.
    assert [t["fits_before_close"] for t in tickets] == [True, True, True, False]
    assert {s["code"]: s for s in api.get("/services").get_json()}["D"]["fits_before_close"] is False


def test_a_ticket_that_stops_fitting_while_it_waits_is_told_once_and_counted_as_warned_at_closing(app, api):
    api.open(4, "teller4")  # D: 25 minutes a customer
    advance(api, 6 * 3600)  # 15:00
    tickets = [api.issue("D") for _ in range(3)]
    assert [t["fits_before_close"] for t in tickets] == [True, True, True]
    api.ok(4, "pause", "teller4", {"reason": "meeting"})  # and nobody is called
    phone = socketio.test_client(app, auth={"ticket": tickets[2]["token"]})
    phone.get_received()
    # With no counter free the third's estimate is two customers and half of one: 62.5 minutes; half
    # again, plus one customer's 25 minutes: 118.75. At 15:01 that still makes 16:59:45.
    advance(api, 60)
    assert api.ticket(tickets[2]["token"])["late_warned_at"] is None
    advance(api, 60)  # 15:02: it would be 17:00:45
    third = api.ticket(tickets[2]["token"])
    assert (third["fits_before_close"], third["late_warned_at"]) == (False, "2026-11-30T07:02:00+00:00")
    heard = [m["args"][0] for m in phone.get_received() if m["name"] == "ticket_changed"]
    assert [(t["fits_before_close"], t["late_warned_at"]) for t in heard] == [(False, third["late_warned_at"])]
    assert api.ticket(tickets[1]["token"])["late_warned_at"] is None  # the second still fits
    advance(api, 60)
    assert [m["name"] for m in phone.get_received() if m["name"] == "ticket_changed"] == []  # told once
    assert api.ticket(tickets[2]["token"])["late_warned_at"] == third["late_warned_at"]
    for _ in range(24):  # to 17:03 in five-minute steps, as a server's minute housekeeping would see them
        advance(api, 5 * 60)
    # The others were told too (15:43, 16:18), in time; all three were sent home at closing.
    assert [api.ticket(t["token"])["status"] for t in tickets] == ["cancelled"] * 3
    estimates = api.get("/reports/daily", "manager").get_json()["headline"]["estimates"]
    assert (estimates["cancelled_at_closing"], estimates["warned_while_waiting"], estimates["cancelled_unwarned"]) == (
        3, 3, 0)


def test_people_waiting_for_a_service_nobody_serves_raise_unstaffed_service_naming_a_counter_to_open(api):
    api.open(1, "teller1")  # A and B only
    api.issue("D")
    advance(api, 119)
    assert [a for a in api.get("/alerts", "manager").get_json() if a["rule"] == "unstaffed_service"] == []
    advance(api, 1)
    [alert] = [a for a in api.get("/alerts", "manager").get_json() if a["rule"] == "unstaffed_service"]
    assert (alert["subject"]["id"], alert["severity"]) == ("D", "warning")
    assert (alert["action"]["kind"], alert["action"]["counter"]) == ("open_counter", 4)
    api.open(4, "teller4")
    assert [a for a in api.get("/alerts", "manager").get_json() if a["rule"] == "unstaffed_service"] == []
