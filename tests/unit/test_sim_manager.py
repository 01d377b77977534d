"""The simulated lobby manager: one person, one reaction at a time, acting only on what is shown."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

from server.simulator.manager import (
    CRITICAL,
    HELP,
    ROUND,
    WARNING,
    CounterSeen,
    Hall,
    Manager,
    ReactionQueue,
    Step,
    card_plan,
    round_plan,
)

# --- the queue -----------------------------------------------------------------------------------


def test_help_comes_before_critical_before_warning_before_a_round_and_the_oldest_first_within_each() -> None:
    queue = ReactionQueue()
    queue.push("round", ROUND, since=0, key="round")
    queue.push("alert", WARNING, since=1, key=1)
    queue.push("alert", WARNING, since=2, key=2)
    queue.push("alert", CRITICAL, since=3, key=3)
    queue.push("help", HELP, since=4, key=4)
    assert [queue.pop().key for _ in range(5)] == [4, 3, 1, 2, "round"]  # type: ignore[union-attr]
    assert queue.pop() is None


def test_an_escalated_card_moves_up_keeping_its_place_in_time_and_is_queued_once() -> None:
    queue = ReactionQueue()
    queue.push("alert", WARNING, since=10, alert={"id": 1, "severity": "warning"}, key=1)
    queue.push("alert", CRITICAL, since=20, key=2)
    assert queue.push("alert", CRITICAL, since=30, alert={"id": 1, "severity": "critical"}, key=1) is False
    assert len(queue) == 2
    first = queue.pop()
    assert first is not None and (first.key, first.since, first.alert) == (1, 10, {"id": 1, "severity": "critical"})
    assert queue.pop().key == 2  # type: ignore[union-attr]
    assert queue.pop() is None


def test_a_less_urgent_push_of_a_queued_card_does_not_move_it_down() -> None:
    queue = ReactionQueue()
    queue.push("alert", CRITICAL, since=0, key=1)
    queue.push("alert", WARNING, since=1, key=2)
    queue.push("alert", WARNING, since=5, key=1)
    assert [queue.pop().key, queue.pop().key] == [1, 2]  # type: ignore[union-attr]


# --- the person, with hand-made hands and draws ------------------------------------------------------


class FakeDraws:
    def __init__(self, reacts: list[bool] | None = None) -> None:
        self.reacts = list(reacts or [])
        self.drawn = 0

    def manager_reacts(self) -> bool:
        self.drawn += 1
        return self.reacts.pop(0) if self.reacts else True

    def manager_reaction_s(self) -> float:
        return 100.0

    def manager_glance_s(self) -> float:
        return 10.0

    def manager_help_s(self) -> tuple[float, float]:
        return 50.0, 150.0

    def manager_round_s(self) -> float:
        return 40.0

    def manager_next_round_s(self) -> float:
        return 10_000.0


class FakeHands:
    """A tiny event loop and a hall; records what the manager did, and when."""

    def __init__(self, hall: Hall) -> None:
        self.now = 0.0
        self._hall = hall
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self.open: set[int] = set()
        self.did: list[tuple[float, str, Any]] = []

    def at(self, when: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._order), action, args))

    def run(self, until: float = 1e9) -> None:
        while self._queue and self._queue[0][0] <= until:
            when, _, action, args = heapq.heappop(self._queue)
            self.now = max(self.now, when)
            action(*args)

    def hall(self) -> Hall:
        return Hall(self.now, self._hall.counters, self._hall.waiting)

    def alert_open(self, alert_id: int) -> bool:
        return alert_id in self.open

    def help_alert_at(self, counter: int) -> int | None:
        return None

    def acknowledge(self, alert_id: int) -> None:
        self.did.append((self.now, "ack", alert_id))

    def respond(self, alert_id: int, state: str) -> bool:
        self.did.append((self.now, state, alert_id))
        if state == "done":
            self.open.discard(alert_id)
        return True

    def instruct(self, counter: int, kind: str, ticket: int | None, alert_id: int | None) -> bool:
        self.did.append((self.now, kind, counter))
        return True

    def open_reserve(self, counter: int) -> bool:
        self.did.append((self.now, "open", counter))
        return True

    def authorize(self, counter: int) -> bool:
        self.did.append((self.now, "authorize", counter))
        return True


def idle_hall() -> Hall:
    counters = tuple(CounterSeen(n, "idle", since_s=-600, services=("A",)) for n in (1, 2, 3))
    return Hall(0.0, counters, {"A": 3})


def idle_card(alert_id: int, counter: int, severity: str = "warning") -> dict[str, Any]:
    return {"id": alert_id, "rule": "idle_counter", "severity": severity, "counter": counter,
            "subject": {"kind": "counter", "id": counter, "label": str(counter)}}


def help_card(alert_id: int, counter: int) -> dict[str, Any]:
    return {"id": alert_id, "rule": "help_requested", "severity": "warning", "counter": counter,
            "subject": {"kind": "counter", "id": counter, "label": str(counter)}}


def test_the_manager_handles_one_card_at_a_time_each_taking_its_time() -> None:
    hands, draws = FakeHands(idle_hall()), FakeDraws()
    manager = Manager(hands, draws, "alerts")
    hands.open |= {1, 2, 3}
    for alert_id in (1, 2, 3):
        manager.hear(idle_card(alert_id, alert_id))
    hands.run()
    instructions = [(t, counter) for t, what, counter in hands.did if what == "call_next"]
    assert instructions == [(100.0, 1), (200.0, 2), (300.0, 3)]  # one after the other, 100 s each
    summary = manager.summary(hours=1)
    assert summary["reactions"] == 3
    assert summary["busy_s"]["cards"] == 300.0


def test_a_help_request_goes_first_and_takes_the_walk_and_the_authorization() -> None:
    hands, draws = FakeHands(idle_hall()), FakeDraws()
    manager = Manager(hands, draws, "alerts")
    hands.open |= {1, 2, 9}
    manager.hear(idle_card(1, 1))
    manager.hear(idle_card(2, 2))
    manager.hear(help_card(9, 3))  # heard last, at the same moment
    hands.run()
    assert [what for _, what, _ in hands.did][:3] == ["on_my_way", "authorize", "done"]
    assert (200.0, "authorize", 3) in hands.did  # 50 s walk + 150 s on the spot
    assert [t for t, what, _ in hands.did if what == "call_next"] == [300.0, 400.0]
    assert manager.summary(hours=1)["busy_s"] == {"cards": 200.0, "help": 200.0, "rounds": 0.0}


def test_one_draw_per_alert_a_card_passed_over_stays_passed_over_when_it_escalates() -> None:
    hands, draws = FakeHands(idle_hall()), FakeDraws(reacts=[False])
    manager = Manager(hands, draws, "alerts")
    hands.open.add(1)
    manager.hear(idle_card(1, 1))
    manager.hear(idle_card(1, 1, severity="critical"))
    hands.run()
    assert draws.drawn == 1
    assert hands.did == []
    assert manager.summary(hours=1)["cards_ignored"] == 1


def test_a_card_gone_when_its_turn_comes_costs_nothing() -> None:
    hands, draws = FakeHands(idle_hall()), FakeDraws()
    manager = Manager(hands, draws, "alerts")
    manager.hear(idle_card(1, 1))  # not open any more
    hands.run()
    assert hands.did == []
    assert manager.summary(hours=1)["busy_s"]["cards"] == 0
    assert manager.summary(hours=1)["cards_gone"] == 1


def test_without_alerts_the_manager_answers_help_requests_but_not_cards() -> None:
    hands, draws = FakeHands(idle_hall()), FakeDraws()
    manager = Manager(hands, draws, "walk")
    hands.open |= {1, 9}
    manager.hear(idle_card(1, 1))
    manager.hear(help_card(9, 2))
    hands.run()
    assert [what for _, what, _ in hands.did] == ["on_my_way", "authorize", "done"]
    assert draws.drawn == 0


def test_a_round_of_the_hall_acts_on_what_it_shows_and_takes_its_time() -> None:
    hall = Hall(0.0, (CounterSeen(1, "idle", since_s=-120, services=("A",)),
                      CounterSeen(2, "idle", since_s=-10, services=("A",)),  # just free: about to call
                      CounterSeen(3, "serving", since_s=-10, services=("A",))), {"A": 2})
    hands, draws = FakeHands(hall), FakeDraws()
    manager = Manager(hands, draws, "walk")
    manager._round_due()
    hands.run(until=5000)
    assert hands.did == [(90.0, "call_next", 1)]  # 40 s round, then 50 s to say it
    assert manager.summary(hours=1)["rounds"] == 1


# --- what the manager decides --------------------------------------------------------------------


def hall_with_pauses(waiting: int) -> Hall:
    return Hall(1000.0, (
        CounterSeen(1, "paused", since_s=0, services=("A",), pause_reason="lunch"),
        CounterSeen(2, "paused", since_s=100, services=("A",), pause_reason="meeting"),
        CounterSeen(3, "paused", since_s=200, services=("A",), pause_reason="break"),
        CounterSeen(4, "serving", since_s=900, services=("A",)),
    ), {"A": waiting})


def test_a_round_asks_to_end_a_break_only_when_the_hall_is_full_and_never_a_lunch_or_a_meeting() -> None:
    assert round_plan(hall_with_pauses(waiting=2), limit=2) == []
    assert round_plan(hall_with_pauses(waiting=8), limit=2) == [Step("instruct", 3, "end_pause")]


def test_without_an_action_on_the_card_a_pause_alert_ends_a_break_not_a_lunch() -> None:
    card = {"id": 5, "rule": "paused_ratio", "severity": "warning", "subject": {"kind": "branch", "id": "b"}}
    assert card_plan(card, hall_with_pauses(8)) == Step("instruct", 3, "end_pause")
    lunch = {"id": 6, "rule": "long_pause", "severity": "warning", "subject": {"kind": "counter", "id": 1}}
    assert card_plan(lunch, hall_with_pauses(8)) is None


def test_a_short_queue_card_finds_a_free_teller_for_the_tickets_service_from_its_number() -> None:
    hall = Hall(1000.0, (CounterSeen(1, "serving", 900, ("A", "B")), CounterSeen(2, "idle", 950, ("C", "B")),
                         CounterSeen(3, "idle", 100, ("B",))), {"B": 1})
    card = {"id": 7, "rule": "short_queue_long_wait", "severity": "warning",
            "subject": {"kind": "ticket", "id": 41, "label": "B012"}}
    # Counter 2 has been free 50 s and counter 3 for 900: both seen free; 3 lists B first.
    assert card_plan(card, hall) == Step("instruct", 3, "call_next", 41)


def test_the_cards_action_says_what_to_do_and_where() -> None:
    card = {"id": 8, "rule": "short_queue_long_wait", "severity": "critical",
            "subject": {"kind": "ticket", "id": 41, "label": "B012"},
            "action": {"kind": "serve_ticket", "counter": 4, "teller": "Teller 4",
                       "ticket": {"id": 41, "number": "B012"}, "instruction": "serve_ticket"}}
    assert card_plan(card, idle_hall()) == Step("instruct", 4, "serve_ticket", 41)
    watch = {**card, "action": {"kind": "watch", "counter": None, "ticket": None, "instruction": None}}
    assert card_plan(watch, idle_hall()) is None


def test_a_card_reacted_to_comes_back_only_when_it_escalates_or_names_someone_free_to_act() -> None:
    hall = Hall(0.0, (CounterSeen(1, "serving", 0, ("A",)), CounterSeen(2, "serving", 0, ("A",)),
                      CounterSeen(3, "idle", -600, ("A",))), {"A": 2})
    hands, draws = FakeHands(hall), FakeDraws()
    manager = Manager(hands, draws, "alerts")
    hands.open.add(1)
    card = {"id": 1, "rule": "short_queue_long_wait", "severity": "warning",
            "subject": {"kind": "ticket", "id": 41, "label": "A012"},
            "action": {"kind": "serve_ticket", "counter": 1, "ticket": {"id": 40, "number": "A011"},
                       "instruction": "serve_ticket"}}
    manager.hear(card)
    hands.run()
    manager.hear({**card, "action": {**card["action"], "counter": 2}})  # another busy counter: no
    hands.run()
    manager.hear({**card, "action": {**card["action"], "counter": 3}})  # a free one: yes
    hands.run()
    manager.hear({**card, "severity": "critical", "action": {**card["action"], "counter": 3}})
    hands.run()
    assert [(what, counter) for _, what, counter in hands.did if what != "ack"] == [
        ("serve_ticket", 1), ("serve_ticket", 3), ("serve_ticket", 3)]
    assert draws.drawn == 1
