"""Complaints staff record, by kind: the six of the product brief (and other). The teller records
"the customer was told something different in the lobby" (complaint kind 2) from the console,
naming the document or rule in question; the manager hears it at once (``complaint_recorded``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from server.actors import Actor
from server.errors import Forbidden, NotFound, require_one_of
from server.models import Alert, Complaint, Counter, Instruction, Service, Staff, Ticket
from server.queueing.numbering import day_start_utc
from server.queueing.views import iso
from server.rooms import Audience
from server.runtime import Runtime
from server.vocabulary import COMPLAINT_KINDS


def record(
    rt: Runtime, actor: Actor, branch_id: int, kind: str, text: str = "", *, ticket_id: int | None = None,
    counter_number: int | None = None, subject: str | None = None,
) -> dict[str, Any]:
    """Record a complaint (staff). The kind is what is counted; the text is optional, so a manager at
    a tablet can record one in two taps. 404 for a ticket or counter that is not the branch's."""
    if not actor.is_staff:
        raise Forbidden("staff record complaints", code="staff_only")
    require_one_of(COMPLAINT_KINDS.codes, kind, "complaint kind", "unknown_kind")
    text = text.strip()
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


# The branch-wide rules whose card foretells a complaint of a kind that names no ticket or counter.
BRANCH_RULES_BY_KIND = {"counters_paused": ("paused_ratio",), "short_queue_wait": ("service_level",)}
# The rules whose card on a service foretells a complaint of one of its waiting customers.
SERVICE_RULES = ("service_level", "unstaffed_service")
# A card resolved this long before a complaint still counts as its warning: customers complain about
# what has just happened (a wait, a counter idle), often after it is over.
WARNING_WINDOW = timedelta(minutes=30)


def warning_before(session: Session, complaint: Complaint) -> dict[str, Any] | None:
    """What Callwise had told the manager before the complaint (issue 18): the earliest card raised
    before the complaint was recorded, still open then or resolved within WARNING_WINDOW of it, about
    its ticket (or its ticket's service: SERVICE_RULES) or its counter; for a complaint naming
    neither, a branch-wide card of a rule that foretells its kind (paused counters, the service
    level). None when nothing warned of it.

    ``lead_s``: how long before the complaint it was raised; ``acknowledged``: the manager had
    acknowledged it by then; ``acted``: the manager had sent a counter an instruction acting on it
    by then (the dashboard's instruction buttons name the card they answer)."""
    when = complaint.recorded_at
    about = []
    if complaint.ticket_id is not None:
        about.append(Alert.ticket_id == complaint.ticket_id)
        # A customer in a long queue has no card of their own; the card that foretold their wait is
        # their service's (its service level falling, nobody serving it).
        service = session.scalar(select(Service.code).join(Ticket, Ticket.service_id == Service.id)
                                 .where(Ticket.id == complaint.ticket_id))
        if service is not None:
            about.append(and_(Alert.subject_kind == "service", Alert.subject_id == service,
                              Alert.rule.in_(SERVICE_RULES)))
    if complaint.counter_id is not None:
        about.append(Alert.counter_id == complaint.counter_id)
    if not about:
        rules = BRANCH_RULES_BY_KIND.get(complaint.kind)
        if not rules:
            return None
        about.append(Alert.rule.in_(rules))
    alert = session.scalars(
        select(Alert).where(Alert.branch_id == complaint.branch_id, Alert.raised_at <= when, or_(*about),
                            or_(Alert.resolved_at.is_(None), Alert.resolved_at >= when - WARNING_WINDOW))
        .order_by(Alert.raised_at, Alert.id).limit(1)
    ).first()
    if alert is None:
        return None
    acted = session.scalar(select(func.count()).select_from(Instruction).where(
        Instruction.alert_id == alert.id, Instruction.issued_at <= when)) or 0
    return {
        "alert": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "raised_at": iso(alert.raised_at),
        "lead_s": int((when - alert.raised_at).total_seconds()),
        "acknowledged": alert.acknowledged_at is not None and alert.acknowledged_at <= when,
        "acted": acted > 0,
        "resolved_before": alert.resolved_at is not None and alert.resolved_at <= when,
    }


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
        "warned": warning_before(session, complaint),
    }
