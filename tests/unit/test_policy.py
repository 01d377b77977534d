"""The call order (server/queueing/policy.py): which waiting ticket a counter's call-next takes."""

from __future__ import annotations

from server.queueing.policy import Waiting, call_key, next_ticket, service_ranks


def test_without_risk_the_counter_serves_its_services_in_its_own_order():
    assert service_ranks(["B", "A", "C"]) == {"B": 0, "A": 1, "C": 2}


def test_at_risk_services_go_first_the_shortest_first_ties_in_the_counters_order():
    minutes = {"A": 3, "B": 4, "C": 10, "D": 3}
    ranks = service_ranks(["C", "B", "A", "D"], at_risk={"B", "A", "D"}, minutes=minutes)
    assert ranks == {"A": 0, "D": 1, "B": 2, "C": 3}


def test_risk_in_a_service_the_counter_does_not_serve_changes_nothing():
    assert service_ranks(["A", "B"], at_risk={"C"}, minutes={"A": 1, "B": 2, "C": 0}) == {"A": 0, "B": 1}


def test_within_a_service_tickets_are_called_in_issue_order_whatever_the_ranks():
    ranks = {"A": 0, "B": 1}
    waiting = [Waiting(7, "A", 30.0), Waiting(5, "A", 10.0), Waiting(6, "A", 10.0), Waiting(1, "B", 0.0)]
    assert next_ticket(waiting, ranks) == Waiting(5, "A", 10.0)
    assert sorted(waiting, key=lambda t: call_key(t, ranks))[:3] == [Waiting(5, "A", 10.0), Waiting(6, "A", 10.0),
                                                                      Waiting(7, "A", 30.0)]


def test_a_later_service_is_called_only_when_the_earlier_ones_are_empty():
    ranks = service_ranks(["A", "B"])
    assert next_ticket([Waiting(1, "B", 0.0)], ranks) == Waiting(1, "B", 0.0)
    assert next_ticket([Waiting(1, "B", 0.0), Waiting(2, "A", 99.0)], ranks) == Waiting(2, "A", 99.0)


def test_an_at_risk_queue_passes_an_older_customer_of_another_service():
    ranks = service_ranks(["A", "C"], at_risk={"C"}, minutes={"A": 3, "C": 10})
    assert next_ticket([Waiting(1, "A", 0.0), Waiting(2, "C", 50.0)], ranks) == Waiting(2, "C", 50.0)


def test_nobody_waiting_for_the_counters_services_is_none():
    assert next_ticket([Waiting(1, "D", 0.0)], service_ranks(["A", "B"])) is None
    assert next_ticket([], {}) is None
