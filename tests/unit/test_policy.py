"""The call order (server/queueing/policy.py): which waiting ticket a counter's call-next takes."""

from __future__ import annotations

from server.queueing.policy import (
    FRONT,
    NORMAL,
    PRIORITY,
    Waiting,
    call_key,
    lane,
    next_ticket,
    priority_may_go_first,
    queue_key,
    service_ranks,
)


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


# --- lanes: returned no-shows, priority customers, everyone else ---------------------------------


def test_the_lanes_of_a_queue():
    assert lane(priority=False) == NORMAL
    assert lane(priority=True) == PRIORITY
    assert lane(priority=True, returned=True) == FRONT == lane(priority=False, directed=True)


def test_within_a_service_a_returned_no_show_goes_first_then_priority_then_issue_order():
    normal_old, priority_late = Waiting(1, "A", 0.0), Waiting(3, "A", 50.0, PRIORITY)
    returned = Waiting(2, "A", 90.0, FRONT)  # came back at 90 s, issued before the priority customer
    ranks = {"A": 0}
    queue = [normal_old, priority_late, returned]
    assert sorted(queue, key=queue_key) == [returned, priority_late, normal_old]
    assert next_ticket(queue, ranks) == returned
    assert next_ticket([normal_old, priority_late], ranks) == priority_late


def test_priority_never_passes_the_order_of_services_at_a_counter():
    """A priority customer of the counter's second service waits for the first service's queue,
    like everyone else of that service: priority is within a service."""
    ranks = service_ranks(["A", "B"])
    assert next_ticket([Waiting(1, "A", 10.0), Waiting(2, "B", 0.0, PRIORITY)], ranks) == Waiting(1, "A", 10.0)


def test_an_at_risk_service_goes_first_and_within_it_priority_still_goes_first():
    ranks = service_ranks(["A", "C"], at_risk={"C"}, minutes={"A": 3, "C": 10})
    queue = [Waiting(1, "A", 0.0, PRIORITY), Waiting(2, "C", 5.0), Waiting(3, "C", 60.0, PRIORITY)]
    assert next_ticket(queue, ranks) == Waiting(3, "C", 60.0, PRIORITY)


def test_a_directed_ticket_is_only_for_its_counter_and_goes_first_there():
    ranks = {"A": 0, "B": 1}
    sent_to_4 = Waiting(9, "B", 100.0, FRONT, directed=4)
    head = Waiting(1, "A", 0.0)
    assert next_ticket([head, sent_to_4], ranks, counter=4) == sent_to_4
    assert next_ticket([head, sent_to_4], ranks, counter=1) == head
    assert next_ticket([sent_to_4], ranks, counter=1) is None
    # Even at a counter that does not list its service (the teller chose to send it there).
    assert next_ticket([sent_to_4], {"C": 0}, counter=4) == sent_to_4


def test_priority_share_one_always_lets_priority_go_first_zero_never():
    assert priority_may_go_first([True] * 10, 1.0)
    assert not priority_may_go_first([], 0.0)


def test_priority_share_a_half_alternates_and_a_quarter_is_one_in_four():
    def run(share: float, calls: int) -> list[bool]:
        recent: list[bool] = []  # newest first
        for _ in range(calls):
            recent.insert(0, priority_may_go_first(recent, share))
        return list(reversed(recent))

    assert run(0.5, 6) == [True, False, True, False, True, False]
    assert run(0.25, 8) == [True, False, False, False, True, False, False, False]


def test_priority_share_looks_only_at_the_latest_calls():
    assert priority_may_go_first([False] * 10 + [True] * 20, 0.5)  # the old streak is forgotten


def test_a_priority_ticket_past_its_share_is_called_in_issue_order_with_the_normal_ones():
    ranks = {"A": 0}
    older_normal, priority = Waiting(1, "A", 0.0), Waiting(2, "A", 30.0, PRIORITY)
    assert next_ticket([older_normal, priority], ranks, priority_ok={"A"}) == priority
    assert next_ticket([older_normal, priority], ranks, priority_ok=set()) == older_normal
    assert call_key(priority, ranks, priority_ok=set())[2] == NORMAL
