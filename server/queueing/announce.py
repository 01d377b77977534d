"""Who hears what. Every message a change to tickets and counters sends is built here, with its
audience; commands (server/queueing/tickets.py, counters.py) say which happened, never to whom.

| message           | audience                                              |
|-------------------|-------------------------------------------------------|
| ticket_changed    | staff, and the ticket's own phone page                |
| ticket_issued     | staff (as ``ticket_changed``; the kiosk has the answer)|
| ticket_called     | displays, staff, the ticket's own phone page          |
| counter_changed   | staff                                                 |
| queue_changed     | displays, kiosks, staff, every phone page             |
| rating_received   | managers                                              |
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.models import Counter, Ticket
from server.queueing import reads
from server.queueing.catalog import services_by_id
from server.queueing.figures import BranchLoad
from server.rooms import Audience
from server.runtime import UnitOfWork

A = Audience


def ticket_changed(uow: UnitOfWork, ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The ticket as staff see it, with its live position and estimate; returns that view."""
    config = uow.runtime.config_for(ticket.branch_id)
    view = reads.ticket_with_live_estimate(uow.session, config, ticket, now, for_holder=False)
    uow.tell("ticket_changed", view, A.STAFF | A.HOLDER, ticket.branch_id, ticket_id=ticket.id)
    return view


def ticket_issued(uow: UnitOfWork, view: dict[str, Any], branch_id: int) -> None:
    """A new ticket, to staff (its holder has the kiosk's answer and no page open yet)."""
    uow.tell("ticket_changed", view, A.STAFF, branch_id)


def ticket_called(uow: UnitOfWork, ticket: Ticket, counter: Counter, *, recall: bool,
                  called_at: datetime | None = None) -> None:
    """Announce the call (or a recall) in the hall, to staff and to the ticket's phone."""
    service = services_by_id(uow.session, ticket.branch_id).get(ticket.service_id)
    when = called_at or ticket.called_at
    payload = {
        "number": ticket.number,
        "counter": counter.number,
        "service": service.code if service else None,
        "recall": recall,
        "called_at": when.isoformat() if when else None,
        "priority": bool(ticket.priority),
    }
    uow.tell("ticket_called", payload, A.DISPLAYS | A.STAFF | A.HOLDER, ticket.branch_id, ticket_id=ticket.id)


def counter_changed(uow: UnitOfWork, counter: Counter, **known: Any) -> dict[str, Any]:
    """The counter as it now is (``current=`` its ticket, when the caller knows it); returns the view."""
    view = reads.counter_view_of(uow.session, uow.runtime.config_for(counter.branch_id), counter, **known)
    uow.tell("counter_changed", view, A.STAFF, counter.branch_id)
    return view


def queue_changed(uow: UnitOfWork, branch_id: int, now: datetime, load: BranchLoad | None = None) -> None:
    """Waiting counts and the wait a new ticket would get, per service, to every screen of the branch."""
    config = uow.runtime.config_for(branch_id)
    summary = reads.queue_summary(uow.session, config, branch_id, now, load=load)
    uow.tell("queue_changed", {"services": summary}, A.DISPLAYS | A.KIOSKS | A.STAFF | A.PHONES, branch_id)


def rating_received(uow: UnitOfWork, rating: dict[str, Any], branch_id: int) -> None:
    """A customer's rating (with its comment), to the managers' latest-ratings list."""
    uow.tell("rating_received", rating, A.MANAGERS, branch_id)
