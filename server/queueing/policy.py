"""The call order: which waiting ticket a counter's call-next takes, and the order of a queue. Pure:
plain numbers in, plain numbers out; the SQL claim (server/queueing/counters.py), the queue reads
(server/queueing/reads.py), the alert snapshot and the property test's reference model all order
tickets with these functions.

How the pieces combine, in one place:

1. **Held** tickets (stepped aside at a counter) are in no queue: only an explicit ``call`` of that
   ticket brings them back. Call-next never takes one.
2. **Directed** tickets (transferred to one counter's own queue) are called by that counter first,
   before its services' queues, oldest transfer first; no other counter's call-next takes them.
3. A counter serves its **services** in the order of its list: the first service that has customers.
   Under the ``at_risk_first`` policy, the services with an *at-risk* ticket (one warned of a
   short-queue complaint that has waited ``queue.at_risk_after_s``) go first, the shortest service
   (expected minutes) first — the cheapest detour for everyone else — with ties in the counter's order.
4. Within one service, the **lanes**: first the no-shows who came back (``return``: at the front,
   first returned first), then **priority** customers (elderly, disabled, pregnant) by issue time,
   then everyone else by issue time. ``queue.priority_share`` below 1.0 limits the priority lane:
   when priority tickets already had that share of the service's latest calls
   (:func:`priority_may_go_first`), call-next takes the service's priority and normal tickets
   together in issue order, so normal customers keep moving. Positions and estimates (what a phone
   page is told) always count the priority lane ahead: the safe side for everyone behind it.

So helping one customer never passes another who came earlier for the same thing, except a
priority customer, a no-show who came back, or someone a teller sent to a counter on purpose.

Who is at risk is :func:`at_risk`: a short-queue customer (at most ``short_queue_max_ahead`` ahead
at issue) who has waited ``queue.at_risk_after_s`` but not yet the complaint line — past it the
complaint is made, and a detour would take the counter from customers it can still help. The test
is call-next's own, independent of the alerts (server/queueing/reads.py reads it in SQL).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal, NamedTuple, TypeVar

Policy = Literal["fifo", "at_risk_first"]
POLICIES: tuple[Policy, ...] = ("fifo", "at_risk_first")

ServiceKey = TypeVar("ServiceKey")


def at_risk(people_ahead: int, waited_s: float, *, max_ahead: int, after_s: float, line_s: float) -> bool:
    """A short-queue customer who has waited long enough to need a detour, and not past the line."""
    return people_ahead <= max_ahead and after_s <= waited_s < line_s


def service_ranks(
    order: Sequence[ServiceKey],
    at_risk: Collection[ServiceKey] = (),
    minutes: Mapping[ServiceKey, float] | None = None,
) -> dict[ServiceKey, int]:
    """Each of the counter's services (``order``: its list, first served first) with its rank in
    the call order, 0 first. ``at_risk`` services (only those the counter serves count) come before
    the others, the shortest (``minutes``) first, ties in the counter's order."""
    risky = [service for service in order if service in at_risk]
    if risky:
        lengths = minutes or {}
        risky.sort(key=lambda service: lengths.get(service, 0.0))  # stable: ties keep the counter's order
    rest = [service for service in order if service not in at_risk]
    return {service: rank for rank, service in enumerate([*risky, *rest])}


# The lanes of a service's queue, first called first.
FRONT = 0  # returned no-shows, and tickets directed to a counter (in that counter's own queue)
PRIORITY = 1
NORMAL = 2

# How many of a service's latest calls priority_may_go_first looks at.
PRIORITY_WINDOW = 10


def lane(*, priority: bool, returned: bool = False, directed: bool = False) -> int:
    """The lane of a waiting ticket in its service's queue."""
    if returned or directed:
        return FRONT
    return PRIORITY if priority else NORMAL


def priority_may_go_first(recent: Sequence[bool], share: float) -> bool:
    """Whether a priority ticket may go before the normal tickets of a service now, given whether
    each of the service's latest calls (newest first; only the first :data:`PRIORITY_WINDOW` count)
    went to a priority ticket: always at ``share`` 1.0, never at 0, otherwise while the priority
    calls among them are at most ``share`` of them (so 0.5 alternates, 0.25 is one in four)."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    window = recent[:PRIORITY_WINDOW]
    return sum(window) <= share * len(window)


class Waiting(NamedTuple):
    """A waiting ticket as the call order sees it: its lane (:func:`lane`) and the time that orders
    it within the lane (issue time; the return time of a returned no-show; the transfer time of a
    directed ticket); ``directed``: the counter whose own queue it is in (None: its service's)."""

    id: int
    service: object
    at: float
    lane: int = NORMAL
    directed: object = None


def queue_key(ticket: Waiting) -> tuple[int, float, int]:
    """The order of a service's queue: lane, time, id (positions and the waiting list)."""
    return ticket.lane, ticket.at, ticket.id


def call_key(ticket: Waiting, ranks: Mapping[object, int], counter: object = None,
             priority_ok: Collection[object] | None = None) -> tuple[int, int, int, float, int]:
    """The sort key of a waiting ticket at ``counter``: directed to it first, then its service's
    rank, then the lane (priority counted as normal for a service not in ``priority_ok``, when
    given), time and id."""
    directed = ticket.directed is not None and ticket.directed == counter
    lane_now = ticket.lane
    if lane_now == PRIORITY and priority_ok is not None and ticket.service not in priority_ok:
        lane_now = NORMAL
    return (0 if directed else 1, ranks.get(ticket.service, 0), lane_now, ticket.at, ticket.id)


def callable_at(ticket: Waiting, ranks: Mapping[object, int], counter: object = None) -> bool:
    """Whether call-next at ``counter`` (serving the services in ``ranks``) may take the ticket:
    its own directed tickets, and the undirected ones of its services."""
    if ticket.directed is not None:
        return ticket.directed == counter
    return ticket.service in ranks


def next_ticket(waiting: Iterable[Waiting], ranks: Mapping[object, int], counter: object = None,
                priority_ok: Collection[object] | None = None) -> Waiting | None:
    """The ticket call-next takes at ``counter`` among ``waiting`` (held tickets are not waiting).
    None when nobody waits for it."""
    return min((t for t in waiting if callable_at(t, ranks, counter)),
               key=lambda t: call_key(t, ranks, counter, priority_ok), default=None)
