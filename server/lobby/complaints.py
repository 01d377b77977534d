"""Complaints staff record, by kind: the six of the product brief (and other). The teller records
"the customer was told something different in the lobby" (complaint kind 2) from the console,
naming the document or rule in question; the manager hears it at once (``complaint_recorded``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.actors import Actor
from server.errors import Forbidden, Invalid, NotFound, require_one_of
from server.models import Complaint, Counter, Staff, Ticket
from server.queueing.numbering import day_start_utc
from server.queueing.views import iso
from server.rooms import Audience
from server.runtime import Runtime
from server.vocabulary import COMPLAINT_KINDS


def record(
    rt: Runtime, actor: Actor, branch_id: int, kind: str, text: str, *, ticket_id: int | None = None,
    counter_number: int | None = None, subject: str | None = None,
) -> dict[str, Any]:
    """Record a complaint (staff). 404 for a ticket or counter that is not the branch's."""
    if not actor.is_staff:
        raise Forbidden("staff record complaints", code="staff_only")
    require_one_of(COMPLAINT_KINDS.codes, kind, "complaint kind", "unknown_kind")
    text = text.strip()
    if not text:
        raise Invalid("say what the customer complained about", code="text_required")
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        counter_id = None
        if counter_number is not None:
            counter_id = session.scalar(select(Counter.id).where(Counter.branch_id == branch_id,
                                                                 Counter.number == counter_number))
            if counter_id is None:
                raise NotFound(f"there is no counter {counter_number} here", code="unknown_counter")
        if ticket_id is not None:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.branch_id != branch_id:
                raise NotFound(f"there is no ticket {ticket_id} here", code="unknown_ticket")
        complaint = Complaint(branch_id=branch_id, kind=kind, ticket_id=ticket_id, counter_id=counter_id,
                              subject=(subject or "").strip() or None, text=text, recorded_by=actor.staff_id,
                              recorded_at=now)
        session.add(complaint)
        session.flush()
        view = complaint_view(session, complaint)
        uow.tell("complaint_recorded", view, Audience.MANAGERS, branch_id)
        uow.commit()
        return view


def complaints_between(rt: Runtime, branch_id: int, first: date, last: date) -> list[dict[str, Any]]:
    """The branch's complaints recorded from ``first`` to ``last`` (days in its zone), oldest first."""
    tz = rt.config_for(branch_id).tz
    start, end = day_start_utc(first, tz), day_start_utc(date.fromordinal(last.toordinal() + 1), tz)
    with rt.reading() as session:
        rows = session.scalars(select(Complaint).where(Complaint.branch_id == branch_id,
                                                       Complaint.recorded_at >= start, Complaint.recorded_at < end)
                               .order_by(Complaint.recorded_at, Complaint.id))
        return [complaint_view(session, row) for row in rows]


def complaint_view(session: Session, complaint: Complaint) -> dict[str, Any]:
    counter = session.get(Counter, complaint.counter_id) if complaint.counter_id is not None else None
    ticket = session.get(Ticket, complaint.ticket_id) if complaint.ticket_id is not None else None
    by = session.get(Staff, complaint.recorded_by)
    return {
        "id": complaint.id,
        "kind": complaint.kind,
        "ticket": {"id": ticket.id, "number": ticket.number} if ticket is not None else None,
        "counter": counter.number if counter is not None else None,
        "subject": complaint.subject,
        "text": complaint.text,
        "recorded_by": by.display_name if by is not None else None,
        "recorded_at": iso(complaint.recorded_at),
    }
