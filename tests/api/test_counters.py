"""What tellers do at a counter, through the HTTP API: the whole cycle and every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.models import Counter, Event, Ticket
from tests.conftest import Api


def snapshot(rt):
    """Everything a refused action must leave unchanged."""
    with rt.reading() as session:
        counters = [(c.number, c.state, c.staff_id, c.pause_reason, c.help_requested_at)
                    for c in session.scalars(select(Counter).order_by(Counter.number))]
        tickets = [(t.number, t.status, t.counter_id, t.service_id, t.recall_count, t.outcome)
                   for t in session.scalars(select(Ticket).order_by(Ticket.id))]
        events = session.scalar(select(func.count()).select_from(Event))
    return counters, tickets, events


def test_full_cycle_open_call_start_complete(api, clock):
    ticket = api.issue("A")
    counter = api.open(1, "teller1")
    assert counter["state"] == "idle"
    assert counter["staff"]["username"] == "teller1"
    called = api.ok(1, "call-next")
    assert (called["number"], called["status"], called["counter"]) == (ticket["number"], "called", 1)
    clock.advance(20)
    started = api.ok(1, "start")
    assert started["status"] == "serving"
    assert started["served_at"] is not None
    clock.advance(150)
    done = api.ok(1, "complete", json={"outcome": "redo"})
    assert (done["status"], done["outcome"]) == ("done", "redo")
    counters = {c["number"]: c for c in api.get("/counters", who="teller1").get_json()}
    assert counters[1]["state"] == "idle"
    assert counters[1]["current_ticket"] is None


def test_complete_without_body_means_done(api):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    assert api.ok(1, "complete")["outcome"] == "done"


def test_call_next_takes_the_counters_first_service_with_customers_oldest_first(api):
    b1 = api.issue("B")
    a1 = api.issue("A")
    a2 = api.issue("A")
    api.open(1, "teller1")  # counter 1 serves A then B
    api.open(3, "teller3")  # counter 3 serves B then A then C
    assert api.ok(1, "call-next")["number"] == a1["number"]
    assert api.ok(3, "call-next", "teller3")["number"] == b1["number"]
    api.ok(1, "start")
    api.ok(1, "complete")
    assert api.ok(1, "call-next")["number"] == a2["number"]


def test_call_next_on_an_empty_queue_is_404_queue_empty_and_changes_nothing(api, rt):
    api.issue("D")  # counter 1 does not serve D
    api.open(1, "teller1")
    before = snapshot(rt)
    response = api.act(1, "call-next")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "queue_empty"
    assert snapshot(rt) == before


def test_recall_calls_the_same_ticket_again(api):
    api.issue("A")
    api.open(1, "teller1")
    first = api.ok(1, "call-next")
    again = api.ok(1, "recall")
    assert again["number"] == first["number"]
    assert again["recall_count"] == 1


def test_no_show_finishes_the_ticket_and_frees_the_counter(api):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    gone = api.no_show(1)
    assert gone["status"] == "no_show"
    assert gone["finished_at"] is not None
    assert api.get("/counters", who="teller1").get_json()[0]["state"] == "idle"


def test_transfer_keeps_number_and_place_by_issue_time(app_factory, fresh_db):
    # Strict order (fifo): under at_risk_first the C tickets, with no C counter open, are at risk
    # and would rightly be called first.
    app = app_factory(queue={"policy": "fifo"})
    api, clock = Api(app.test_client(), fresh_db.tokens), app.extensions["callwise"].clock
    early = api.issue("A")  # issued first
    clock.advance(60)
    c1 = api.issue("C")
    clock.advance(60)
    c2 = api.issue("C")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    moved = api.ok(1, "transfer", json={"service": "C"})
    assert (moved["number"], moved["service"], moved["status"]) == (early["number"], "C", "waiting")
    assert moved["position"] == 1  # issued before both C tickets, so it goes first
    assert api.ticket(c1["token"])["position"] == 2
    assert api.ticket(c2["token"])["position"] == 3
    api.open(4, "teller4")
    assert api.ok(4, "call-next", "teller4")["number"] == early["number"]


def test_transfer_to_an_unknown_or_the_same_service_is_422_and_changes_nothing(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    before = snapshot(rt)
    assert api.act(1, "transfer", json={"service": "Z"}).status_code == 422
    assert api.act(1, "transfer", json={"service": "A"}).status_code == 422
    assert api.act(1, "transfer", json={}).status_code == 422
    assert snapshot(rt) == before


def test_pause_and_resume_record_the_reason(api):
    api.open(2, "teller2")
    paused = api.ok(2, "pause", "teller2", {"reason": "cash_replenish"})
    assert (paused["state"], paused["pause_reason"]) == ("paused", "cash_replenish")
    resumed = api.ok(2, "resume", "teller2")
    assert (resumed["state"], resumed["pause_reason"]) == ("idle", None)


def test_pause_needs_a_known_reason(api, rt):
    api.open(2, "teller2")
    before = snapshot(rt)
    assert api.act(2, "pause", "teller2", {"reason": "nap"}).status_code == 422
    assert api.act(2, "pause", "teller2", {}).status_code == 422
    assert snapshot(rt) == before


def test_paused_counter_does_not_call(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "pause", json={"reason": "break"})
    before = snapshot(rt)
    response = api.act(1, "call-next")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "invalid_transition"
    assert snapshot(rt) == before


def test_request_help_is_recorded_once_and_cleared_when_the_customer_leaves(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    helped = api.ok(1, "request-help")
    assert helped["help_requested_at"] is not None
    events_before = snapshot(rt)[2]
    assert api.ok(1, "request-help")["help_requested_at"] == helped["help_requested_at"]
    assert snapshot(rt)[2] == events_before  # asking twice logs nothing more
    api.ok(1, "complete")
    assert api.get("/counters", who="teller1").get_json()[0]["help_requested_at"] is None


def test_request_help_needs_a_customer(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    assert api.act(1, "request-help").status_code == 409
    assert snapshot(rt) == before


def test_close_signs_out_and_frees_the_teller(api):
    api.open(1, "teller1")
    closed = api.ok(1, "close")
    assert (closed["state"], closed["staff"]) == ("closed", None)
    assert api.open(2, "teller1")["staff"]["username"] == "teller1"


def test_cannot_close_while_a_customer_is_at_the_counter(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    before = snapshot(rt)
    assert api.act(1, "close").status_code == 409
    assert snapshot(rt) == before


@pytest.mark.parametrize(
    ("setup", "action", "body"),
    [
        ([], "start", None),
        ([], "complete", {"outcome": "done"}),
        ([], "recall", None),
        ([], "no-show", None),
        ([], "resume", None),
        (["call-next"], "call-next", None),
        (["call-next"], "complete", {"outcome": "done"}),
        (["call-next"], "pause", {"reason": "break"}),
        (["call-next", "start"], "start", None),
        (["call-next", "start"], "no-show", None),
        (["call-next", "start"], "recall", None),
    ],
)
def test_invalid_transitions_answer_409_and_change_nothing(api, rt, setup, action, body):
    api.issue("A")
    api.issue("A")
    api.open(1, "teller1")
    for step in setup:
        api.ok(1, step)
    before = snapshot(rt)
    response = api.act(1, action, json=body)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_transition"
    assert snapshot(rt) == before


def test_a_counter_held_by_someone_else_cannot_be_opened(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    response = api.act(1, "open", "teller2")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "counter_taken"
    assert snapshot(rt) == before


def test_a_teller_is_at_one_counter_at_a_time(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    response = api.act(2, "open", "teller1")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_signed_in"
    assert snapshot(rt) == before


def test_opening_ones_own_counter_again_is_harmless(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    assert api.open(1, "teller1")["state"] == "idle"
    assert snapshot(rt) == before


def test_a_teller_cannot_act_on_another_tellers_counter(api, rt):
    api.issue("A")
    api.open(1, "teller1")
    api.open(2, "teller2")
    before = snapshot(rt)
    response = api.act(1, "call-next", "teller2")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "not_your_counter"
    assert snapshot(rt) == before


def test_a_manager_may_act_on_any_counter_of_the_branch(api):
    ticket = api.issue("A")
    api.open(1, "teller1")
    called = api.ok(1, "call-next", "manager")
    assert called["number"] == ticket["number"]
    with_staff = api.get("/counters", who="manager").get_json()[0]
    assert with_staff["staff"]["username"] == "teller1"  # the teller stays signed in


def test_unknown_counter_is_404(api):
    response = api.act(99, "open", "teller1")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown_counter"


def test_actions_without_parameters_refuse_a_body_with_fields(api, rt):
    api.open(1, "teller1")
    before = snapshot(rt)
    assert api.act(1, "close", json={"force": True}).status_code == 422
    assert snapshot(rt) == before


def test_queue_lists_waiting_tickets_per_service_in_call_order(api, clock):
    a1 = api.issue("A")
    clock.advance(5)
    b1 = api.issue("B")
    clock.advance(5)
    a2 = api.issue("A")
    queue = {s["code"]: s for s in api.get("/queue", who="teller1").get_json()["services"]}
    assert [t["number"] for t in queue["A"]["tickets"]] == [a1["number"], a2["number"]]
    assert [t["position"] for t in queue["A"]["tickets"]] == [1, 2]
    assert queue["B"]["waiting"] == 1
    assert queue["B"]["tickets"][0]["number"] == b1["number"]
    assert queue["D"]["waiting"] == 0
    assert "token" not in queue["A"]["tickets"][0]  # staff never see customers' tokens


def test_services_list_documents_waiting_and_estimates(api):
    api.issue("C")
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert set(services) == {"A", "B", "C", "D"}
    assert services["C"]["waiting"] == 1
    assert services["C"]["kind"] == "standard"
    assert services["D"]["documents"][1] == {"zh": "收入证明", "en": "Proof of income"}
    # No counter is open: no number is promised that no counter backs.
    assert (services["C"]["estimated_wait_s"], services["C"]["staffed_counters"]) == (None, 0)
    api.open(1, "teller1")  # A and B
    api.open(4, "teller4")  # C and D
    services = {s["code"]: s for s in api.get("/services").get_json()}
    assert services["C"]["estimated_wait_s"] > services["A"]["estimated_wait_s"]
    assert services["C"]["staffed_counters"] == services["A"]["staffed_counters"] == 1
    assert all(s["fits_before_close"] for s in services.values())
