"""A read-only picture of one branch at one moment: what every alert rule looks at.

Plain frozen dataclasses and named tuples, built from the database by :mod:`server.alerts.loader`
or by hand in tests. The derived figures (queue positions, live estimates, how long the paused
share has held) are computed here once, so every rule sees the same numbers the API shows.

Every time in a snapshot is POSIX seconds (UTC) as a float: a large hall has thousands of waiting
tickets, and a float costs nothing to read where a datetime costs a parse per row and per sweep.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import NamedTuple

from server.queueing import policy
from server.queueing.estimate import ServiceLoad, estimate_wait_s, service_loads

TallyOf = Counter  # counters per state, e.g. {"idle": 3, "paused": 2}
# How long a pause is guessed to last from its start when projecting waits (a paused counter counts
# as staffed, but slower to come back than a busy one).
PAUSE_GUESS_S = 600.0


class ActiveTicket(NamedTuple):
    """The ticket called to or being served at a counter."""

    id: int
    number: str
    service_id: int
    status: str  # called | serving
    called_at: float
    served_at: float | None = None


@dataclass(frozen=True)
class CounterInfo:
    id: int
    number: int
    state: str  # closed | idle | calling | serving | paused
    state_since: float
    services: tuple[int, ...]  # service ids in call order
    staff_id: int | None = None
    staff_name: str | None = None
    pause_reason: str | None = None
    help_requested_at: float | None = None
    help_reason: str | None = None
    help_responded_at: float | None = None  # the manager answered "on my way"
    ticket: ActiveTicket | None = None


class WaitingTicket(NamedTuple):
    """A ticket in a queue. (Named tuples: a large hall has thousands, built on every sweep.)"""

    id: int
    number: str
    service_id: int
    issued_at: float
    waiting_since: float  # issue time, or the time of its latest transfer
    people_ahead: int  # at issue
    promised_wait_s: int  # the estimate given at issue
    priority: bool = False
    returned_at: float | None = None  # a no-show who came back: at the front of its service
    directed_counter_id: int | None = None  # sent to one counter's own queue

    @property
    def order(self) -> tuple[int, float, int]:
        """Its place in its service's queue (:func:`server.queueing.policy.queue_key`)."""
        directed = self.directed_counter_id is not None
        at = self.returned_at if self.returned_at is not None else self.waiting_since if directed else self.issued_at
        return policy.queue_key(policy.Waiting(
            self.id, self.service_id, at,
            policy.lane(priority=self.priority, returned=self.returned_at is not None, directed=directed)))


class LowRating(NamedTuple):
    """A customer's low rating of the day (recent enough to follow up)."""

    ticket_id: int
    number: str
    stars: int
    comment: str | None
    rated_at: float
    counter_id: int | None
    teller: str | None


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    code: str
    name: dict[str, str]
    expected_s: float
    target_wait_s: int
    mean_cycle_s: float  # call-to-finish, for wait estimates (moving average of the day)
    normal_service_s: float  # start-to-finish, for overruns (median of the day, or expected)


class CounterChange(NamedTuple):
    """One counter state change of the day, for rules that need to know how long a state held."""

    at: float
    counter_id: int
    from_state: str
    to_state: str


@dataclass(frozen=True)
class BranchSnapshot:
    branch_id: int
    branch_code: str
    now: float
    day_start: float
    counters: tuple[CounterInfo, ...]
    waiting: tuple[WaitingTicket, ...]
    services: dict[int, ServiceInfo]
    counter_history: tuple[CounterChange, ...] = ()
    languages: tuple[str, ...] = ("zh", "en")
    serving: bool = True  # the branch is open for customers now (open, or the last tickets issued)
    open_alert_keys: frozenset[tuple[str, str, str]] = field(default_factory=frozenset)
    low_ratings: tuple[LowRating, ...] = ()
    # Reads the day's counter history when a rule first needs it (the loader's, in the caller's
    # transaction): most sweeps never do, and a busy day has thousands of counter changes.
    load_history: Callable[[], tuple[CounterChange, ...]] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def history(self) -> tuple[CounterChange, ...]:
        return self.load_history() if self.load_history is not None else self.counter_history

    @cached_property
    def queues(self) -> dict[int, list[WaitingTicket]]:
        """Waiting tickets per service id, in queue order (server/queueing/policy.py)."""
        out: dict[int, list[WaitingTicket]] = defaultdict(list)
        for ticket in sorted(self.waiting, key=lambda t: t.order):
            out[ticket.service_id].append(ticket)
        return out

    @cached_property
    def queue_heads(self) -> dict[int, tuple[int, float]]:
        """Per service id: how many wait, and since when the longest-waiting of them has been in
        the queue (``waiting_since``). Rules that look at a counter's services combine these, so
        their cost grows with counters x services, not counters x tickets."""
        return {
            service_id: (len(queue), min(t.waiting_since for t in queue))
            for service_id, queue in self.queues.items()
            if queue
        }

    @cached_property
    def positions(self) -> dict[int, int]:
        """Ticket id -> position in its service's queue (1 = next)."""
        return {t.id: i for queue in self.queues.values() for i, t in enumerate(queue, start=1)}

    @cached_property
    def loads(self) -> dict[int, ServiceLoad]:
        waiting = {service_id: len(queue) for service_id, queue in self.queues.items()}
        return service_loads(
            ((c.state, c.services) for c in self.counters),
            waiting,
            {service_id: info.mean_cycle_s for service_id, info in self.services.items()},
        )

    def frees_at(self, counter: CounterInfo) -> float:
        """When the counter is likely to be free for its next customer: now if it is free; for a
        counter with a customer, when that customer's usual counter time (call to finish) is up, or,
        once that has passed, as long again as it has run over (at least half a usual time: a
        transaction running long is not about to end); for a paused one, a typical pause after it
        began (``PAUSE_GUESS_S``)."""
        if counter.state == "idle":
            return self.now
        if counter.state == "paused":
            return max(self.now, counter.state_since + PAUSE_GUESS_S)
        ticket = counter.ticket
        if ticket is None:
            return self.now
        service = self.services.get(ticket.service_id)
        cycle = service.mean_cycle_s if service is not None else 0.0
        due = ticket.called_at + cycle
        return due if due > self.now else self.now + max(cycle / 2, self.now - due)

    def projected_wait_s(self, ticket: WaitingTicket) -> float | None:
        """How much longer ``ticket`` is likely to wait, from the counters actually staffed for its
        service and when each is likely to be free (a free one now, a busy one when its customer's
        usual time is up, a paused one later), then one usual counter time per customer ahead,
        shared among the counters serving it. None when no staffed counter serves it: nobody will
        call it until one opens."""
        able = [c for c in self.counters
                if c.state != "closed" and c.staff_id is not None and ticket.service_id in c.services]
        if not able:
            return None
        first_free = min(self.frees_at(c) for c in able) - self.now
        service = self.services.get(ticket.service_id)
        mean = service.mean_cycle_s if service is not None else 0.0
        servers = max(self.loads[ticket.service_id].servers, 1.0)
        return first_free + (self.positions[ticket.id] - 1) * mean / servers

    def remaining_wait_s(self, ticket: WaitingTicket) -> int:
        """The live estimate of how much longer ``ticket`` waits (what its phone page shows)."""
        return estimate_wait_s(self.positions[ticket.id], self.loads[ticket.service_id])

    def new_ticket_wait_s(self, service_id: int) -> int:
        """The wait a ticket of this service issued now would be promised."""
        return estimate_wait_s(len(self.queues.get(service_id, [])) + 1, self.loads[service_id])

    def elapsed_s(self, since: float) -> float:
        return self.now - since

    def held_since(self, holds: Callable[[TallyOf], bool]) -> float | None:
        """Since when ``holds(tally)`` has been true without a break, walking the day's counter
        history back from now; None if it does not hold now. ``tally`` counts counters per state.
        One step per change of the day, whatever the number of counters."""
        tally: TallyOf = Counter(c.state for c in self.counters)
        if not holds(tally):
            return None
        for change in reversed(self.history):
            tally[change.to_state] -= 1
            tally[change.from_state] += 1
            if not holds(tally):
                return change.at
        return self.day_start

    @cached_property
    def counters_by_id(self) -> dict[int, CounterInfo]:
        return {c.id: c for c in self.counters}

    @cached_property
    def waiting_by_id(self) -> dict[int, WaitingTicket]:
        return {t.id: t for t in self.waiting}


def iso(ts: float) -> str:
    """A snapshot time as ISO 8601 with the UTC offset (for alert data)."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()
