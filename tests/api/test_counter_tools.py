"""The counter's everyday tools through the HTTP API (issue 15): priority tickets, the waiting list,
calling a chosen ticket, hold and call back, return of a no-show, transfer to a counter with a
note, undo, the no-show grace, cancel from the phone, the customer's context, ratings and the
low_rating alert. Each on SQLite and PostgreSQL (the ``api`` fixture), with who may and may not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Event
from tests.api.test_counters import snapshot
from tests.conftest import Api


def error(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_json()["error"]["code"]


def queue_of(api: Api, code: str, who: str = "teller1") -> list[dict]:
    services = api.get("/queue", who).get_json()["services"]
    return next(s for s in services if s["code"] == code)["tickets"]


def counter(api: Api, number: int) -> dict:
    return next(c for c in api.get("/counters", "teller1").get_json() if c["number"] == number)


# --- priority ------------------------------------------------------------------------------------


def test_a_priority_ticket_is_called_before_the_normal_ones_of_its_service_and_says_who_is_ahead(api):
    first = api.issue("A")
    second = api.issue("A")
    elderly = api.issue("A", priority=True)
    assert elderly["priority"] is True and first["priority"] is False
    assert elderly["people_ahead"] == 0 and elderly["position"] == 1  # only priority tickets go ahead of it
    assert api.ticket(second["token"])["position"] == 3  # the priority customer is now ahead of it
    assert [t["number"] for t in queue_of(api, "A")] == [elderly["number"], first["number"], second["number"]]
    api.open(1, "teller1")
    assert api.ok(1, "call-next")["number"] == elderly["number"]
    api.ok(1, "start")
    api.ok(1, "complete")
    assert api.ok(1, "call-next")["number"] == first["number"]


def test_a_second_priority_ticket_queues_behind_the_first(api):
    api.issue("A")
    p1 = api.issue("A", priority=True)
    p2 = api.issue("A", priority=True)
    assert (p1["people_ahead"], p2["people_ahead"]) == (0, 1)
    assert [t["number"] for t in queue_of(api, "A")][:2] == [p1["number"], p2["number"]]


def test_priority_share_keeps_normal_customers_moving(app_factory, fresh_db):
    app = app_factory(queue={"priority_share": 0.5})
    api = Api(app.test_client(), fresh_db.tokens)
    normal = [api.issue("A")["number"] for _ in range(3)]
    priority = [api.issue("A", priority=True)["number"] for _ in range(3)]
    api.open(1, "teller1")
    called = []
    for _ in range(6):
        called.append(api.ok(1, "call-next")["number"])
        api.ok(1, "start")
        api.ok(1, "complete")
    # At most half of the latest calls go to priority tickets while normal ones wait: they alternate.
    assert called == [priority[0], normal[0], priority[1], normal[1], priority[2], normal[2]]


def test_staff_issue_priority_tickets_and_a_staff_idempotency_key_repeats_the_same_ticket(api):
    headers = {"Idempotency-Key": "desk-0001-retry"}
    first = api.post("/tickets", "manager", json={"service": "B", "priority": True}, headers=headers)
    again = api.post("/tickets", "manager", json={"service": "B", "priority": True}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"] and first.get_json()["priority"] is True


def test_priority_must_be_a_boolean(api, rt):
    before = snapshot(rt)
    response = api.post("/tickets", "kiosk", json={"service": "A", "priority": "yes"})
    assert response.status_code == 422
    assert snapshot(rt) == before


# --- the waiting list and calling a chosen ticket -----------------------------------------------


def test_the_waiting_list_shows_waited_priority_at_risk_and_held(api, clock):
    a1 = api.issue("A")
    clock.advance(240)
    a2 = api.issue("A")
    items = {t["number"]: t for t in queue_of(api, "A")}
    assert items[a1["number"]]["waited_s"] == 240 and items[a2["number"]]["waited_s"] == 0
    assert items[a1["number"]]["at_risk"] is True  # nobody ahead at issue, waited past at_risk_after_s
    assert items[a2["number"]]["at_risk"] is False
    assert items[a2["number"]]["people_ahead_at_issue"] == 1
    assert {t["held"] for t in items.values()} == {False}


def test_a_teller_calls_a_chosen_ticket_and_the_rest_keep_their_order(api):
    a1, a2, a3 = (api.issue("A") for _ in range(3))
    api.open(1, "teller1")
    called = api.ok(1, "call", json={"ticket": a2["id"]})
    assert (called["number"], called["status"], called["counter"]) == (a2["number"], "called", 1)
    assert [t["number"] for t in queue_of(api, "A")] == [a1["number"], a3["number"]]
    with api.client.application.extensions["callwise"].reading() as session:
        data = session.scalar(select(Event.data).where(Event.entity == "ticket", Event.action == "call"))
    assert data["by"] == "call"


@pytest.mark.parametrize(("setup", "code", "status"), [
    ("called", "not_waiting", 409),
    ("other_service", "not_your_service", 403),
    ("busy", "invalid_transition", 409),
    ("unknown", "unknown_ticket", 404),
])
def test_calling_a_chosen_ticket_is_refused_clearly_and_changes_nothing(api, rt, setup, code, status):
    a1 = api.issue("A")
    d1 = api.issue("D")
    a2 = api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    target = {"called": a1["id"], "other_service": d1["id"], "busy": a2["id"], "unknown": 999_999}[setup]
    if setup == "called":
        api.ok(2, "call-next", "teller2")  # takes a1
    if setup == "busy":
        api.ok(1, "call-next")
    before = snapshot(rt)
    response = api.act(1, "call", json={"ticket": target})
    assert (response.status_code, error(response)) == (status, code)
    assert snapshot(rt) == before


def test_call_body_is_validated(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    for body in ({}, {"ticket": "one"}, {"ticket": 0}, {"ticket": 2**70}, {"ticket": 1, "extra": True}):
        assert api.act(1, "call", json=body).status_code == 422, body
    assert snapshot(rt) == before


# --- hold and call back --------------------------------------------------------------------------


def test_hold_sets_a_customer_aside_with_a_note_and_any_counter_of_its_service_calls_them_back(api):
    a1, a2 = api.issue("A"), api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    api.ok(1, "call-next")
    api.ok(1, "start")
    held = api.ok(1, "hold", json={"note": "fetching the ID card"})
    assert held["status"] == "held" and held["position"] == 0
    assert counter(api, 1)["state"] == "idle"
    items = queue_of(api, "A")
    assert [(t["number"], t["held"]) for t in items] == [(a2["number"], False), (a1["number"], True)]
    assert items[1]["note"] == "fetching the ID card" and items[1]["counter"] == 1
    # Call-next never takes a held ticket.
    assert api.ok(1, "call-next")["number"] == a2["number"]
    back = api.ok(2, "call", "teller2", {"ticket": a1["id"]})
    assert (back["status"], back["counter"]) == ("called", 2)
    assert counter(api, 2)["current_ticket"]["note"] == "fetching the ID card"


def test_hold_needs_a_customer_at_the_counter(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    response = api.act(1, "hold", json={"note": "x"})
    assert (response.status_code, error(response)) == (409, "invalid_transition")
    assert snapshot(rt) == before


def test_a_held_ticket_outlives_closing_for_its_teller_and_closes_at_the_next_days_rollover(api):
    ticket = api.issue("A")
    waiting = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "hold")
    api.advance(9 * 3600)  # past closing (17:00): the waiting customer is sent home, the held one is not
    assert api.ticket(waiting["token"])["cancel_reason"] == "branch_closed"
    assert api.ticket(ticket["token"])["status"] == "held"
    assert api.ok(1, "call", json={"ticket": ticket["id"]})["status"] == "called"  # back after closing
    api.ok(1, "hold")
    api.advance(16 * 3600 + 60)  # the next morning, open again
    after = api.ticket(ticket["token"])
    assert (after["status"], after["cancel_reason"]) == ("cancelled", "day_end")


# --- no-show grace, return -----------------------------------------------------------------------


def test_a_no_show_is_refused_within_the_grace_after_the_call_and_accepted_after(api, rt, clock):
    api.issue("A")
    api.open(1, "teller1")
    called = api.ok(1, "call-next")
    assert counter(api, 1)["current_ticket"]["no_show_allowed_at"] is not None
    clock.advance(3)
    before = snapshot(rt)
    response = api.act(1, "no-show")
    assert (response.status_code, error(response)) == (409, "too_early")
    assert "57 s" in response.get_json()["error"]["message"]
    assert snapshot(rt) == before
    clock.advance(57)
    assert api.ok(1, "no-show")["number"] == called["number"]


def test_the_grace_is_configurable(app_factory, fresh_db):
    api = Api(app_factory(queue={"no_show_grace_s": 0}).test_client(), fresh_db.tokens)
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    assert api.ok(1, "no-show")["status"] == "no_show"


def test_a_returned_no_show_waits_again_at_the_front_of_its_service(api):
    late = api.issue("A")
    others = [api.issue("A") for _ in range(2)]
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.no_show(1)
    back = api.post(f"/tickets/{late['id']}/return", "teller2")
    assert back.status_code == 200, back.get_json()
    assert (back.get_json()["status"], back.get_json()["position"]) == ("waiting", 1)
    assert [t["number"] for t in queue_of(api, "A")] == [late["number"], *(o["number"] for o in others)]
    assert api.ok(1, "call-next")["number"] == late["number"]


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller2", 200), ("manager", 200), ("admin", 200),
])
def test_staff_return_a_no_show_and_nobody_else(api, rt, caller, status):
    late = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.no_show(1)
    before = snapshot(rt)
    response = api.post(f"/tickets/{late['id']}/return", None if caller == "anonymous" else caller)
    assert response.status_code == status
    if status != 200:
        assert snapshot(rt) == before


def test_only_a_no_show_can_return(api, rt):
    waiting = api.issue("A")
    before = snapshot(rt)
    response = api.post(f"/tickets/{waiting['id']}/return", "teller1")
    assert (response.status_code, error(response)) == (409, "not_no_show")
    assert api.post("/tickets/999999/return", "teller1").status_code == 404
    assert snapshot(rt) == before


# --- transfer with fixed targets, to a counter, with a note --------------------------------------


def test_transfer_to_a_counter_puts_the_ticket_in_that_counters_own_queue_with_the_note(api):
    a1 = api.issue("A")
    c1 = api.issue("C")
    api.open(1, "teller1")
    api.open(3, "teller3")
    api.open(4, "teller4")
    api.ok(1, "call-next")
    moved = api.ok(1, "transfer", json={"counter": 4, "note": "needs the account opened first"})
    assert (moved["status"], moved["directed_counter"], moved["service"]) == ("waiting", 4, "C")
    # Counter 3 serves C too, but the ticket is counter 4's: 3 takes the C queue's own ticket.
    assert api.ok(3, "call-next", "teller3")["number"] == c1["number"]
    called = api.ok(4, "call-next", "teller4")
    assert called["number"] == a1["number"]
    assert counter(api, 4)["current_ticket"]["note"] == "needs the account opened first"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, "no_target"),
    ({"counter": 4}, 409, "counter_closed"),
    ({"counter": 1}, 422, "same_counter"),
    ({"counter": 42}, 404, "unknown_counter"),
    ({"service": "Z"}, 422, "unknown_service"),
    ({"service": "D", "counter": 2}, 422, "not_served_there"),
    ({"service": "A"}, 422, "same_service"),
])
def test_a_transfer_that_cannot_be_made_changes_nothing(api, rt, body, status, code):
    api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    api.ok(1, "call-next")
    before = snapshot(rt)
    response = api.act(1, "transfer", json=body)
    assert (response.status_code, error(response)) == (status, code)
    assert snapshot(rt) == before


# --- undo ----------------------------------------------------------------------------------------


def test_undo_puts_a_wrongly_completed_customer_back_at_the_counter(api, clock):
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    clock.advance(30)
    api.ok(1, "complete", json={"outcome": "error"})
    offered = counter(api, 1)["undo"]
    assert offered["action"] == "complete" and offered["ticket"]["number"] == ticket["number"]
    clock.advance(20)
    back = api.ok(1, "undo")
    assert (back["status"], back["outcome"], back["finished_at"]) == ("serving", None, None)
    view = counter(api, 1)
    assert (view["state"], view["undo"], view["current_ticket"]["number"]) == ("serving", None, ticket["number"])
    assert view["state_since"] == back["served_at"]  # the service goes on from when it began
    assert api.ok(1, "complete", json={"outcome": "done"})["outcome"] == "done"


def test_undo_of_a_no_show_calls_the_customer_again(api):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.no_show(1)
    assert api.ok(1, "undo")["status"] == "called"
    assert counter(api, 1)["state"] == "calling"


@pytest.mark.parametrize("after", ["expired", "called_next", "nothing", "rated"])
def test_undo_is_refused_when_it_is_too_late_or_something_else_happened(api, rt, clock, after):
    ticket = api.issue("A")
    api.issue("A")
    api.open(1, "teller1")
    if after != "nothing":
        api.ok(1, "call-next")
        api.ok(1, "start")
        api.ok(1, "complete")
    if after == "expired":
        clock.advance(61)
    if after == "called_next":
        api.ok(1, "call-next")
    if after == "rated":
        assert api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 5}).status_code == 200
    before = snapshot(rt)
    response = api.act(1, "undo")
    expected = {"expired": "undo_expired", "called_next": "nothing_to_undo", "nothing": "nothing_to_undo",
                "rated": "already_rated"}[after]
    assert (response.status_code, error(response)) == (409, expected)
    assert snapshot(rt) == before


def test_another_teller_cannot_undo_at_my_counter(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "complete")
    before = snapshot(rt)
    response = api.act(1, "undo", "teller2")
    assert (response.status_code, error(response)) == (403, "not_your_counter")
    assert snapshot(rt) == before
    assert api.ok(1, "undo", "manager")["status"] == "serving"


# --- cancel from the phone -----------------------------------------------------------------------


def test_the_holder_leaves_the_queue_and_everyone_behind_moves_up(api):
    first, second, third = (api.issue("A") for _ in range(3))
    assert api.ticket(third["token"])["position"] == 3
    response = api.post(f"/tickets/{second['token']}/cancel")
    assert response.status_code == 200
    gone = response.get_json()
    assert (gone["status"], gone["cancel_reason"]) == ("cancelled", "customer")
    assert api.ticket(third["token"])["position"] == 2
    assert [t["number"] for t in queue_of(api, "A")] == [first["number"], third["number"]]


def test_a_called_ticket_can_no_longer_leave_the_queue(api, rt):
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    before = snapshot(rt)
    response = api.post(f"/tickets/{ticket['token']}/cancel")
    assert (response.status_code, error(response)) == (409, "not_waiting")
    assert snapshot(rt) == before
    assert api.post("/tickets/" + "x" * 32 + "/cancel").status_code == 404


# --- context, ratings and low_rating -------------------------------------------------------------


def test_the_teller_sees_the_customers_context(api, clock):
    ticket = api.issue("A", lang="en", priority=True)
    api.open(1, "teller1")
    api.open(4, "teller4")
    clock.advance(120)
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "hold", json={"note": "went to fetch the passbook"})
    api.ok(1, "call", json={"ticket": ticket["id"]})
    api.ok(1, "transfer", json={"counter": 4, "note": "large withdrawal: authorise"})
    response = api.get(f"/tickets/{ticket['id']}/context", "teller4")
    assert response.status_code == 200
    context = response.get_json()
    assert (context["waited_s"], context["lang"], context["priority"]) == (120, "en", True)
    assert context["note"] == "large withdrawal: authorise"
    actions = [(h["action"], h["note"]) for h in context["history"]]
    assert ("hold", "went to fetch the passbook") in actions
    assert ("transfer", "large withdrawal: authorise") in actions
    assert context["history"][0]["action"] == "issue"
    assert api.get(f"/tickets/{ticket['id']}/context", "kiosk").status_code == 403
    assert api.get(f"/tickets/{ticket['id']}/context").status_code == 401


def test_the_context_shows_what_the_lobby_recorded(api, clock):
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "pause", json={"reason": "break"})
    clock.advance(1)
    response = api.post("/counters/1/instruct", "manager", json={"kind": "note", "ticket": ticket["id"],
                                                                 "text": "the customer is in a hurry"})
    assert response.status_code == 201, response.get_json()
    lobby = api.get(f"/tickets/{ticket['id']}/context", "teller1").get_json()["lobby"]
    assert ("instruction", "the customer is in a hurry") in [(item["kind"], item["text"]) for item in lobby]
    # Every counter of its service is paused: the lobby was warned about this customer too.
    assert "short_queue_long_wait" in [item.get("rule") for item in lobby]


def test_a_low_rating_raises_an_alert_with_the_comment_and_the_counter_and_lists_in_ratings(api, clock):
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "complete")
    rated = api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 1, "comment": "rude and slow"})
    assert rated.status_code == 200
    alerts = [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "low_rating"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["subject"]["kind"], alert["subject"]["id"]) == ("ticket", ticket["id"])
    assert "rude and slow" in alert["message"] and alert["counter"] == 1
    assert alert["action"]["kind"] == "follow_up"
    ratings = api.get("/ratings?limit=5", "manager").get_json()
    assert ratings[0]["stars"] == 1 and ratings[0]["comment"] == "rude and slow" and ratings[0]["counter"] == 1
    clock.advance(1801)
    api.advance(1)
    assert not [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "low_rating"]


def test_a_good_rating_raises_nothing(api):
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.serve_one(1, "teller1")
    assert api.post(f"/tickets/{ticket['token']}/rating", json={"stars": 4}).status_code == 200
    assert not [a for a in api.get("/alerts?state=open", "manager").get_json() if a["rule"] == "low_rating"]


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller1", 403), ("manager", 200), ("admin", 200),
])
def test_only_managers_read_the_ratings(api, caller, status):
    assert api.get("/ratings", None if caller == "anonymous" else caller).status_code == status
    if status == 200:
        assert api.get("/ratings?limit=0", caller).status_code == 422


# --- the daily report ----------------------------------------------------------------------------


def test_the_daily_report_counts_the_tools_priority_waits_and_lists_ratings_with_comments(api, clock):
    normal = api.issue("A")
    clock.advance(60)
    elderly = api.issue("A", priority=True)
    leaving = api.issue("A")
    api.post(f"/tickets/{leaving['token']}/cancel")
    api.open(1, "teller1")
    clock.advance(60)
    assert api.ok(1, "call-next")["number"] == elderly["number"]  # waited 60 s
    api.ok(1, "start")
    api.ok(1, "hold", json={"note": "fetching a document"})
    assert api.ok(1, "call-next")["number"] == normal["number"]
    api.no_show(1)
    api.post(f"/tickets/{normal['id']}/return", "teller1")
    api.ok(1, "call", json={"ticket": elderly["id"]})
    api.ok(1, "start")
    api.ok(1, "complete", json={"outcome": "redo"})
    api.ok(1, "undo")
    api.ok(1, "complete", json={"outcome": "done"})
    api.post(f"/tickets/{elderly['token']}/rating", json={"stars": 2, "comment": "=had to come back twice"})
    clock.advance(30)
    # The no-show who came back is called again: their wait runs from issue to this call (210 s).
    assert api.ok(1, "call-next")["number"] == normal["number"]
    report = api.get("/reports/daily", "manager").get_json()
    headline = report["headline"]
    assert headline["priority"] == {"issued": 1, "served": 1, "mean_wait_s": 60.0, "others_mean_wait_s": 210.0}
    assert headline["counter_tools"] == {"held": 1, "returned": 1, "undone": 1, "called_by_choice": 1,
                                         "cancelled_by_customer": 1}
    assert headline["outcomes"]["done"] == 1 and headline["outcomes"]["redo"] == 0  # the undone redo is gone
    [comment] = report["ratings"]["comments"]
    assert (comment["number"], comment["stars"], comment["counter"]) == (elderly["number"], 2, 1)
    assert comment["comment"] == "=had to come back twice" and comment["teller"]
    csv_text = api.get("/reports/daily.csv?lang=en", "manager").get_data(as_text=True)
    section = csv_text.split("Ratings and comments", 1)[1]
    assert "'=had to come back twice" in section  # kept, and never run as a formula
    assert "Left the queue from the phone,1" in csv_text
    alone = api.get("/reports/daily.csv?lang=en&table=ratings", "manager")
    assert alone.status_code == 200 and "ratings.csv" in alone.headers["Content-Disposition"]
    lines = alone.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Time,Number,Service,Stars,Comment,Counter,Teller" and len(lines) == 2
    assert api.get("/reports/daily.csv?table=alerts", "manager").status_code == 422


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller2", 200), ("manager", 200), ("admin", 200),
])
def test_staff_read_a_customers_context_and_nobody_else(api, caller, status):
    ticket = api.issue("A")
    response = api.get(f"/tickets/{ticket['id']}/context", None if caller == "anonymous" else caller)
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["ticket"]["number"] == ticket["number"]
        assert api.get("/tickets/999999/context", caller).status_code == 404
