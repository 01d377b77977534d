"""The simulator's complaint counting, on small hand-made histories (seconds after opening)."""

from __future__ import annotations

from server.simulator.incidents import (
    AlertRecord,
    CounterRecord,
    Incident,
    TicketRecord,
    count_incidents,
    match,
    normal_service_s,
)

NORMAL = {"A": 180.0, "C": 600.0}


def kinds(incidents: list[Incident]) -> list[tuple[str, str, float]]:
    return [(i.kind, i.subject, i.at) for i in incidents]


def test_a_short_queue_customer_waiting_over_ten_minutes_is_one_incident_at_the_ten_minute_mark() -> None:
    tickets = [TicketRecord(1, "A", people_ahead=2, issued=100, called=100 + 601, served=760, finished=900, counter=1)]
    assert kinds(count_incidents(tickets, [], NORMAL, end=3000)) == [("short_queue", "ticket:1", 700)]


def test_a_full_hall_wait_or_a_call_just_in_time_is_no_short_queue_incident() -> None:
    tickets = [
        TicketRecord(1, "A", people_ahead=3, issued=0, called=3000),  # waited 50 min, but 3 were ahead
        TicketRecord(2, "A", people_ahead=0, issued=0, called=600),  # exactly at the line: not over it
    ]
    assert count_incidents(tickets, [], NORMAL, end=4000) == []


def test_a_customer_never_called_counts_until_the_end_of_the_day() -> None:
    tickets = [TicketRecord(1, "A", people_ahead=1, issued=1000)]
    assert kinds(count_incidents(tickets, [], NORMAL, end=1700)) == [("short_queue", "ticket:1", 1600)]
    assert count_incidents(tickets, [], NORMAL, end=1500) == []


def test_a_free_counter_with_a_customer_it_serves_waiting_over_three_minutes_is_an_idle_incident() -> None:
    tickets = [TicketRecord(1, "A", people_ahead=5, issued=50, called=400)]
    counter = CounterRecord(1, ("A",), [(0, "idle"), (400, "calling")])
    assert kinds(count_incidents(tickets, [counter], NORMAL, end=1000)) == [("idle_counter", "counter:1", 230)]


def test_no_idle_incident_when_the_waiting_customer_is_not_its_service_or_the_counter_is_paused() -> None:
    tickets = [TicketRecord(1, "C", people_ahead=5, issued=0, called=900)]
    other_service = CounterRecord(1, ("A",), [(0, "idle")])
    paused = CounterRecord(2, ("C",), [(0, "paused"), (890, "idle"), (900, "calling")])
    found = count_incidents(tickets, [other_service, paused], NORMAL, end=1000)
    assert [i for i in found if i.kind == "idle_counter"] == []
    assert kinds(found) == [("paused_ratio", "branch", 600)]  # one of two staffed counters paused: half


def test_an_idle_stretch_broken_by_a_call_starts_again() -> None:
    # Free 0-170 with someone waiting, busy 170-300, free again 300-470 with the next one: two
    # stretches of 170 s, neither over three minutes.
    tickets = [TicketRecord(1, "A", people_ahead=5, issued=0, called=170),
               TicketRecord(2, "A", people_ahead=5, issued=0, called=470)]
    counter = CounterRecord(1, ("A",), [(0, "idle"), (170, "calling"), (200, "serving"), (300, "idle"),
                                        (470, "calling")])
    assert count_incidents(tickets, [counter], NORMAL, end=1000) == []


def test_half_the_staffed_counters_paused_over_ten_minutes_while_people_wait_is_one_incident() -> None:
    tickets = [TicketRecord(1, "C", people_ahead=9, issued=0, called=2000)]
    counters = [
        CounterRecord(1, ("A",), [(0, "idle"), (100, "paused"), (1000, "idle")]),
        CounterRecord(2, ("A",), [(0, "paused"), (1500, "idle")]),
        CounterRecord(3, ("A",), [(0, "idle")]),
        CounterRecord(4, ("A",), [(0, "idle")]),
        CounterRecord(5, ("A",), [(0, "closed")]),  # closed counters are not staffed: 2 of 4 paused is half
    ]
    found = [i for i in count_incidents(tickets, counters, NORMAL, end=3000) if i.kind == "paused_ratio"]
    assert kinds(found) == [("paused_ratio", "branch", 700)]


def test_paused_counters_with_nobody_waiting_or_for_under_ten_minutes_are_no_incident() -> None:
    counters = [CounterRecord(1, ("A",), [(0, "paused"), (2000, "idle")]), CounterRecord(2, ("A",), [(0, "idle")])]
    def paused_ratio(tickets: list[TicketRecord]) -> list[Incident]:
        return [i for i in count_incidents(tickets, counters, NORMAL, end=3000) if i.kind == "paused_ratio"]

    assert paused_ratio([TicketRecord(1, "A", 9, issued=2100, called=2150)]) == []
    assert paused_ratio([TicketRecord(1, "A", 9, issued=0, called=590)]) == []  # people waited only 590 s


def test_a_transaction_over_twice_its_normal_time_is_an_overrun_at_the_double() -> None:
    tickets = [
        TicketRecord(1, "A", 9, issued=0, called=10, served=40, finished=40 + 361, counter=3),
        TicketRecord(2, "A", 9, issued=0, called=500, served=520, finished=520 + 360, counter=3),  # exactly twice
    ]
    found = count_incidents(tickets, [], NORMAL, end=3000)
    assert kinds(found) == [("service_overrun", "ticket:1", 400)]
    assert found[0].counter == 3


def test_normal_time_is_the_days_median_once_there_are_enough() -> None:
    finished = [TicketRecord(i, "A", 0, issued=0, called=0, served=0, finished=s)
                for i, s in enumerate([100, 120, 140, 160, 900])]
    assert normal_service_s(finished, {"A": 180.0, "C": 600.0}) == {"A": 140, "C": 600.0}
    assert normal_service_s(finished[:4], {"A": 180.0}) == {"A": 180.0}


def test_an_alert_before_the_incident_counts_with_its_lead_one_after_does_not() -> None:
    incidents = [Incident("short_queue", "ticket:1", 100, 700), Incident("short_queue", "ticket:2", 200, 800),
                 Incident("idle_counter", "counter:4", 1000, 1180)]
    alerts = [
        AlertRecord("short_queue_long_wait", "ticket:1", raised=460),  # 4 min ahead
        AlertRecord("short_queue_long_wait", "ticket:2", raised=801),  # too late
        AlertRecord("idle_counter", "counter:3", raised=1060),  # another counter
        AlertRecord("short_queue_long_wait", "ticket:9", raised=300),  # nothing followed: false
    ]
    result = match(incidents, alerts)
    assert result["per_kind"]["short_queue"] == {"incidents": 2, "warned": 1, "recall": 0.5, "median_lead_s": 240.0}
    assert result["per_kind"]["idle_counter"]["warned"] == 0
    assert result["per_kind"]["paused_ratio"]["recall"] is None
    # ticket:2's late alert, counter 3's and ticket 9's foretold nothing that followed them.
    assert (result["alerts_foretelling"], result["false_alerts"]) == (4, 3)


def test_a_help_request_at_the_counter_warns_of_the_overrun_of_the_transaction_there() -> None:
    incidents = [Incident("service_overrun", "ticket:7", 1000, 1720, counter=2)]
    at_two = match(incidents, [AlertRecord("help_requested", "counter:2", raised=1300)])
    elsewhere = match(incidents, [AlertRecord("help_requested", "counter:5", raised=1300)])
    assert at_two["per_kind"]["service_overrun"]["median_lead_s"] == 420
    assert elsewhere["per_kind"]["service_overrun"]["warned"] == 0
    assert at_two["alerts_foretelling"] == 0  # help requests are no forecast: never "false"
