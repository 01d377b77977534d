"""Complaints from the customers' patience, and what each alert foretold, on hand-made days."""

from __future__ import annotations

import math

import pytest

from server.simulator.incidents import (
    AlertRecord,
    Complaint,
    Incident,
    TicketRecord,
    complaints,
    follow_up,
    warned_complaints,
)
from server.simulator.world import World, patience_s

WORLD = World()


def test_a_short_queue_customer_is_patient_for_about_ten_minutes() -> None:
    assert patience_s(WORLD, 0, 0.0) == pytest.approx(600)
    assert patience_s(WORLD, 2, 0.0) == pytest.approx(600)
    assert patience_s(WORLD, 2, 1.0) == pytest.approx(600 * math.exp(WORLD.patience_short_sigma))
    assert 450 < patience_s(WORLD, 1, -1.0) < 600 < patience_s(WORLD, 1, 1.0) < 800


def test_one_who_saw_a_long_queue_is_much_more_patient_the_longer_it_was() -> None:
    assert patience_s(WORLD, 3, 0.0) == pytest.approx(600 + 300)
    assert patience_s(WORLD, 12, 0.0) == pytest.approx(600 + 10 * 300)  # 60 minutes with 12 ahead
    assert patience_s(WORLD, 12, -1.0) > patience_s(WORLD, 2, 1.0)


def test_a_customer_complains_when_the_wait_passes_their_patience_at_that_moment() -> None:
    tickets = [
        TicketRecord(1, "A", 1, issued=100, called=100 + 700),  # patience 600: complains at 700
        TicketRecord(2, "A", 1, issued=100, called=100 + 590),  # called in time
        TicketRecord(3, "A", 8, issued=100, called=100 + 1500),  # a long queue: patient enough
        TicketRecord(4, "A", 0, issued=1000),  # never called: waits until the end of the day
        TicketRecord(5, "A", 0, issued=1000, called=3000),  # no patience known: never complains
    ]
    patience = {1: 600.0, 2: 600.0, 3: 2400.0, 4: 500.0}
    found = complaints(tickets, patience, end=1600)
    assert found == [Complaint(1, "A", 1, 100, 700, True), Complaint(4, "A", 0, 1000, 1500, True)]
    assert complaints(tickets, patience, end=1400) == [Complaint(1, "A", 1, 100, 700, True)]


def test_short_queue_alerts_are_measured_against_the_complaints_recall_and_lead() -> None:
    found = [Complaint(1, "A", 1, 0, 700, True), Complaint(2, "A", 2, 0, 500, True),
             Complaint(3, "A", 9, 0, 3000, False)]  # a long-queue complaint is not a short-queue one
    alerts = [
        AlertRecord("short_queue_long_wait", "ticket:1", raised=340),  # 6 min ahead
        AlertRecord("short_queue_long_wait", "ticket:2", raised=520),  # after the complaint: not warned
        AlertRecord("eta_broken", "ticket:3", raised=100),
    ]
    result = warned_complaints(found, alerts)
    assert (result["complaints"], result["warned"], result["recall"], result["median_lead_s"]) == (2, 1, 0.5, 360)


def test_each_alert_is_followed_late_or_not_followed_by_what_it_foretells() -> None:
    found = [Complaint(1, "A", 1, 0, 700, True), Complaint(2, "B", 5, 0, 2000, False)]
    incidents = [Incident("idle_counter", "counter:3", start=1000, at=1180, end=1400)]
    alerts = [
        AlertRecord("short_queue_long_wait", "ticket:1", raised=400),  # followed by its complaint
        AlertRecord("short_queue_long_wait", "ticket:7", raised=400),  # nobody complained
        AlertRecord("eta_broken", "ticket:1", raised=800),  # the customer had complained already: late
        AlertRecord("idle_counter", "counter:3", raised=1060),  # followed by the incident
        AlertRecord("idle_counter", "counter:3", raised=1200),  # the incident had happened: late
        AlertRecord("long_pause", "counter:4", raised=1500, resolved=2100),  # a B customer complained meanwhile
        AlertRecord("long_pause", "counter:5", raised=1500, resolved=2100),  # counter 5 serves A only
        AlertRecord("help_requested", "counter:4", raised=10),  # no forecast
    ]
    table = follow_up(alerts, incidents, found, {4: ("A", "B"), 5: ("A",)}, end=5000)
    assert table["short_queue_long_wait"] == {"raised": 2, "followed": 1, "late": 0, "not_followed": 1, "forecast": 1}
    assert table["eta_broken"] == {"raised": 1, "followed": 0, "late": 1, "not_followed": 0, "forecast": 1}
    assert table["idle_counter"] == {"raised": 2, "followed": 1, "late": 1, "not_followed": 0, "forecast": 1}
    assert table["long_pause"] == {"raised": 2, "followed": 1, "late": 0, "not_followed": 1, "forecast": 1}
    assert table["help_requested"]["forecast"] == 0


def test_a_story_joined_to_another_card_warns_from_when_it_was_first_shown() -> None:
    found = [Complaint(1, "A", 1, 0, 700, True)]
    # The free counter's card told of ticket 1 from 400 s (it was raised at 100 for the counter).
    card = AlertRecord("idle_counter", "counter:3", raised=100, stories=(("short_queue_long_wait", "ticket:1", 400),))
    result = warned_complaints(found, [card])
    assert (result["warned"], result["median_lead_s"]) == (1, 300)
    table = follow_up([card], [], found, {3: ("A",)}, end=5000)
    assert table["idle_counter"]["followed"] == 1  # its own story was not followed; the joined one was


def test_a_complaint_is_within_reach_only_if_a_counter_for_it_was_free_or_on_a_break_meanwhile() -> None:
    from server.simulator.incidents import CounterRecord, within_reach

    tickets = [TicketRecord(1, "A", 1, issued=0, called=900), TicketRecord(2, "B", 1, issued=0, called=900)]
    found = [Complaint(1, "A", 1, 0, 700, True), Complaint(2, "B", 1, 0, 700, True)]
    counters = [
        CounterRecord(1, ("A",), [(0, "serving"), (300, "paused"), (800, "idle")]),  # a lunch, then free too late
        CounterRecord(2, ("B",), [(0, "serving"), (200, "idle"), (290, "serving")]),  # free 90 s: within reach
    ]
    pauses = [(1, "lunch", 300.0, 800.0)]
    reach = within_reach(tickets, counters, pauses, [], found, end=1000)
    assert reach["complaints"] == {"total": 2, "within_reach": 1}
    on_a_break = within_reach(tickets, counters, [(1, "break", 300.0, 800.0)], [], found, end=1000)
    assert on_a_break["complaints"] == {"total": 2, "within_reach": 2}
