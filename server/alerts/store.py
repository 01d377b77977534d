"""Small reads of the alerts table that other parts of the server need."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from server.models import Alert, Ticket

AT_RISK_RULES = ("short_queue_long_wait",)


def at_risk_service_ids(session: Session, branch_id: int, waited_since: datetime | None = None) -> set[int]:
    """Services with a waiting ticket that has an open short_queue_long_wait warning (and, given
    ``waited_since``, was issued no later than that: it has waited long enough to need a detour).

    Under the ``at_risk_first`` policy call-next serves these queues first. It is the queue that
    goes first, not the ticket: within one service tickets are always called in issue order, so
    helping one customer never passes another who came earlier for the same thing.

    Only the short-queue risk counts (complaint #3), not a broken estimate: in a full hall nearly
    every ticket's estimate breaks, and putting those queues first pulled counters away from the
    short queues — over 20 simulated days that made short-queue incidents 16% *more* frequent than
    plain ``fifo`` (bench/simulations.py, BENCHMARKS.md).
    """
    statement = _statements()[waited_since is not None]
    return set(session.scalars(statement, {"branch_id": branch_id, "waited_since": waited_since}))


@cache
def _statements() -> tuple[Any, Any]:
    """The query without and with the ``waited_since`` bound, built once: call-next runs it."""
    query = (
        select(Ticket.service_id)
        .join(Alert, Alert.ticket_id == Ticket.id)
        .where(
            Alert.branch_id == bindparam("branch_id"),
            Alert.resolved_at.is_(None),
            Alert.rule.in_(AT_RISK_RULES),
            # A critical one has crossed the line: its complaint is made, a detour cannot prevent it,
            # and it would take the counter from customers it still can help (20 simulated days:
            # short-queue incidents 26% below fifo with them, 32% without).
            Alert.severity == "warning",
            Ticket.status == "waiting",
        )
        .distinct()
    )
    return query, query.where(Ticket.issued_at <= bindparam("waited_since", type_=Ticket.issued_at.type))
