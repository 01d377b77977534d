"""The call order: which waiting ticket a counter's call-next takes. Pure: plain numbers in, plain
numbers out; the SQL claim (server/queueing/counters.py), the simulator and the property test's
reference model all order tickets with :func:`service_ranks` and :func:`call_key`.

A counter serves its services in the order of its list: the first service that has customers,
oldest ticket first. Under the ``at_risk_first`` policy, the services with an *at-risk* ticket (one
warned of a short-queue complaint that has waited ``queue.at_risk_after_s``) go first, the shortest
service (expected minutes) first — the cheapest detour for everyone else — with ties in the
counter's order. Within one service tickets are always called in issue order, so helping one
customer never passes another who came earlier for the same thing.

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


class Waiting(NamedTuple):
    """A waiting ticket as the call order sees it."""

    id: int
    service: object
    issued_at: float


def call_key(ticket: Waiting, ranks: Mapping[object, int]) -> tuple[int, float, int]:
    """The sort key of a waiting ticket at a counter: its service's rank, then issue time, then id."""
    return ranks[ticket.service], ticket.issued_at, ticket.id


def next_ticket(waiting: Iterable[Waiting], ranks: Mapping[object, int]) -> Waiting | None:
    """The ticket call-next takes among ``waiting``: only services in ``ranks`` (the counter's)
    count. None when nobody waits for them."""
    return min((t for t in waiting if t.service in ranks), key=lambda t: call_key(t, ranks), default=None)
