"""One card per situation (server/alerts/stories.py) and the action on every card
(server/alerts/actions.py), on hand-made branches."""

from __future__ import annotations

from dataclasses import replace

from server.alerts import actions
from server.alerts.rules import evaluate_rules
from server.config import AlertConfig
from tests.unit.test_rules import A, B, busy_counter, counter, snapshot, waiting

SETTINGS = AlertConfig()


def cards(snap):  # type: ignore[no-untyped-def]
    return {(c.rule, c.subject_id): c for c in evaluate_rules(snap, SETTINGS)}


def test_a_free_counter_and_the_short_queue_customer_it_could_call_are_one_card_that_asks_it_to_call():
    # Counter 2 (A) free for 3 min; counter 1 busy; ticket 3 (two ahead at issue) will pass the line.
    queue = [waiting(1, issued=0), waiting(2, issued=0, ahead=1), waiting(3, issued=0, ahead=2)]
    snap = snapshot(420, [busy_counter(1, called=300), counter(2, since=240)], queue)
    shown = cards(snap)
    assert set(shown) == {("idle_counter", "2")}  # the tickets' own cards joined it
    card = shown[("idle_counter", "2")]
    assert card.severity == "critical"  # idle for 180 s: the most severe part of the story
    assert card.action.kind == "ask_to_call" and card.action.counter.number == 2
    assert [part["rule"] for part in card.data["joined"]] == ["short_queue_long_wait"]
    assert (card.ticket_id, card.lead_time_s) == (3, 180)  # the customer at risk, and the lead on them


def test_a_short_queue_card_already_open_keeps_the_story_and_gains_the_counters_action():
    queue = [waiting(1), waiting(2, ahead=1), waiting(3, ahead=2)]
    # Counter 2 (B, then A) has been free for 100 s; ticket 3 is projected at 580 s of the 600 s line.
    snap = snapshot(400, [busy_counter(1, called=300), counter(2, since=300, services=(B, A))], queue)
    assert set(cards(snap)) == {("idle_counter", "2")}  # no short-queue card yet: the counter's story
    key = ("short_queue_long_wait", "ticket", "3")
    shown = cards(replace(snap, open_alert_keys=frozenset({key})))
    assert set(shown) == {("short_queue_long_wait", "3")}  # the open card escalates in place
    card = shown[("short_queue_long_wait", "3")]
    assert (card.action.kind, card.action.counter.number) == ("ask_to_call", 2)
    assert card.counter_id == 102  # the teller at counter 2 hears of it too


def test_a_broken_promise_joins_the_customers_short_queue_card():
    late = waiting(1, issued=0, ahead=0, promised=60)
    shown = cards(snapshot(560, [busy_counter(1, called=-200)], [late]))
    shown.pop(("service_overrun", "901"))  # counter 1's long transaction: a story of its own
    assert set(shown) == {("short_queue_long_wait", "1")}
    assert [part["rule"] for part in shown[("short_queue_long_wait", "1")].data["joined"]] == ["eta_broken"]


def test_a_transaction_overrun_at_a_counter_that_asked_for_help_is_the_help_card():
    helping = replace(busy_counter(2, called=-2000), help_requested_at=snapshot(0).now - 10)
    shown = cards(snapshot(0, [helping]))
    assert set(shown) == {("help_requested", "2")}
    assert shown[("help_requested", "2")].action.kind == "assist"


def test_long_pauses_while_too_many_counters_are_paused_are_the_branchs_one_card():
    from server.alerts.snapshot import CounterChange
    from tests.unit.test_rules import at

    paused = [counter(1, state="paused", since=0, reason="break"), counter(2, state="paused", since=0, reason="lunch"),
              counter(3)]
    history = [CounterChange(at(0), 101, "idle", "paused"), CounterChange(at(0), 102, "idle", "paused")]
    shown = cards(snapshot(1000, paused, [waiting(1, issued=0, ahead=5)], history=history))
    assert ("paused_ratio", "test") in shown and ("long_pause", "1") not in shown
    ratio = shown[("paused_ratio", "test")]
    # End the pause the manager may end (a break), not the lunch.
    assert (ratio.action.kind, ratio.action.counter.number) == ("end_pause", 1)


def test_who_can_help_a_service_best_first():
    ticket = waiting(1, ahead=0)
    free = counter(2, services=(B, A))
    assert actions.helping(snapshot(0, [free], [ticket]), A, ticket).kind == "ask_to_call"
    # Counter 2 calls B first: it is asked for the first A customer by name, never to pass an
    # earlier A customer for the one at risk.
    queue = [waiting(9, service=B), waiting(8, issued=-50), ticket]
    named = actions.helping(snapshot(0, [free], queue), A, ticket)
    assert (named.kind, named.ticket.id, named.instruction) == ("serve_ticket", 8, "serve_ticket")
    on_break = counter(3, state="paused", since=0, reason="break")
    at_lunch = counter(4, state="paused", since=0, reason="lunch")
    assert actions.helping(snapshot(0, [at_lunch, on_break], [ticket]), A, ticket).counter.number == 3
    busy = [busy_counter(5, called=-100), busy_counter(6, called=-170)]
    chosen = actions.helping(snapshot(0, [at_lunch, *busy], [ticket]), A, ticket)
    assert (chosen.kind, chosen.counter.number, chosen.ticket.id) == ("serve_ticket", 6, 1)
    closed = counter(7, state="closed")
    assert actions.helping(snapshot(0, [at_lunch, closed], [ticket]), A, ticket).kind == "open_counter"
    assert actions.helping(snapshot(0, [at_lunch], [ticket]), A, ticket).kind == "watch"


def test_an_action_reads_in_both_languages_and_names_the_teller():
    action = actions.ask_to_call(counter(5)).as_dict(("zh", "en"))
    assert action == {"kind": "ask_to_call", "counter": 5, "teller": "T5", "ticket": None, "instruction": "call_next",
                      "text": "请5号窗口（T5）叫号", "messages": {"zh": "请5号窗口（T5）叫号",
                                                              "en": "Ask counter 5 (T5) to call the next customer"}}
