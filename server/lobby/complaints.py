"""Complaints staff record, by kind: the six of the product brief (and other). The teller records
"the customer was told something different in the lobby" (complaint kind 2) from the console,
naming the document or rule in question; the manager hears it at once (``complaint_recorded``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
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
        return complaint_views(session, list(rows))


# The branch-wide rules whose card foretells a complaint of a kind that names no ticket or counter.
BRANCH_RULES_BY_KIND = {"counters_paused": ("paused_ratio",), "short_queue_wait": ("service_level",)}
# The rules whose card on a service foretells a complaint of one of its waiting customers.
SERVICE_RULES = ("service_level", "unstaffed_service")
# A card resolved this long before a complaint still counts as its warning: customers complain about
# what has just happened (a wait, a counter idle), often after it is over.
WARNING_WINDOW = timedelta(minutes=30)


def complaint_view(session: Session, complaint: Complaint) -> dict[str, Any]:
    """One complaint as the API shows it (see ``complaint_views``)."""
    return complaint_views(session, [complaint])[0]


def complaint_views(session: Session, complaints: Sequence[Complaint]) -> list[dict[str, Any]]:
    """Complaints of one branch as the API shows them, each with ``warned``: what Callwise had told
    the manager before it (issue 18). Read in a few queries whatever their number (a range report
    has hundreds).

    ``warned`` is the earliest card raised before the complaint was recorded, still open then or
    resolved within WARNING_WINDOW of it, about its ticket (or its ticket's service: SERVICE_RULES)
    or its counter; for a complaint naming neither, a branch-wide card of a rule that foretells its
    kind (paused counters, the service level). None when nothing warned of it. ``lead_s``: how long
    before the complaint it was raised; ``acknowledged``: the manager had acknowledged it by then;
    ``acted``: the manager had sent a counter an instruction acting on it by then (the dashboard's
    instruction buttons name the card they answer)."""
    if not complaints:
        return []
    branch_id = complaints[0].branch_id
    db = session.connection()
    counters = dict(db.execute(select(Counter.id, Counter.number).where(
        Counter.id.in_({c.counter_id for c in complaints if c.counter_id is not None}))).all())
    tickets = {row.id: row for row in db.execute(
        select(Ticket.id, Ticket.number, Service.code).join(Service, Service.id == Ticket.service_id)
        .where(Ticket.id.in_({c.ticket_id for c in complaints if c.ticket_id is not None}))).all()}
    names = dict(db.execute(select(Staff.id, Staff.display_name).where(
        Staff.id.in_({c.recorded_by for c in complaints}))).all())
    earliest, latest = min(c.recorded_at for c in complaints), max(c.recorded_at for c in complaints)
    cards = db.execute(
        select(Alert.id, Alert.rule, Alert.severity, Alert.escalated_at, Alert.raised_at, Alert.acknowledged_at,
               Alert.resolved_at, Alert.ticket_id, Alert.counter_id, Alert.subject_kind, Alert.subject_id)
        .where(Alert.branch_id == branch_id, Alert.raised_at <= latest,
               or_(Alert.resolved_at.is_(None), Alert.resolved_at >= earliest - WARNING_WINDOW))
        .order_by(Alert.raised_at, Alert.id)).all()
    # When the manager first acted on each card: an instruction names the card it answers.
    acted_from = dict(db.execute(
        select(Instruction.alert_id, func.min(Instruction.issued_at))
        .where(Instruction.branch_id == branch_id, Instruction.alert_id.is_not(None),
               Instruction.issued_at <= latest).group_by(Instruction.alert_id)).all()
    ) if cards else {}
    found = _Cards(cards)
    views = []
    for complaint in complaints:
        ticket = tickets.get(complaint.ticket_id) if complaint.ticket_id is not None else None
        warned = found.first(complaint, ticket.code if ticket is not None else None)
        views.append({
            "id": complaint.id,
            "kind": complaint.kind,
            "ticket": {"id": ticket.id, "number": ticket.number} if ticket is not None else None,
            "counter": counters.get(complaint.counter_id) if complaint.counter_id is not None else None,
            "subject": complaint.subject,
            "text": complaint.text,
            "recorded_by": names.get(complaint.recorded_by),
            "recorded_at": iso(complaint.recorded_at),
            "warned": None if warned is None else _warning(warned, complaint.recorded_at, acted_from.get(warned.id)),
        })
    return views


class _Cards:
    """The cards of a stretch of time, in raise order, found by what they are about."""

    def __init__(self, cards: Sequence[Any]) -> None:
        self.by: dict[tuple[str, Any], list[Any]] = {}
        for card in cards:  # in raise order, so each list is too
            keys = [("ticket", card.ticket_id), ("counter", card.counter_id), ("rule", card.rule)]
            if card.subject_kind == "service" and card.rule in SERVICE_RULES:
                keys.append(("service", card.subject_id))
            for key in keys:
                self.by.setdefault(key, []).append(card)

    def first(self, complaint: Complaint, service: str | None) -> Any:
        """The first card that warned of ``complaint`` (see ``complaint_views``), or None."""
        keys: list[tuple[str, Any]] = []
        if complaint.ticket_id is not None:
            keys.append(("ticket", complaint.ticket_id))
            if service is not None:
                keys.append(("service", service))
        if complaint.counter_id is not None:
            keys.append(("counter", complaint.counter_id))
        if complaint.ticket_id is None and complaint.counter_id is None:
            keys += [("rule", rule) for rule in BRANCH_RULES_BY_KIND.get(complaint.kind, ())]
        when = complaint.recorded_at
        found = [card for key in keys for card in self._open_then(self.by.get(key, ()), when)]
        return min(found, key=lambda card: (card.raised_at, card.id)) if found else None

    @staticmethod
    def _open_then(cards: Sequence[Any], when: datetime) -> list[Any]:
        """The first card of ``cards`` raised by ``when`` and open then or resolved within the window."""
        for card in cards:
            if card.raised_at > when:
                break
            if card.resolved_at is None or card.resolved_at >= when - WARNING_WINDOW:
                return [card]
        return []


def _warning(card: Any, when: datetime, first_instruction: datetime | None) -> dict[str, Any]:
    return {
        "alert": card.id,
        "rule": card.rule,
        # As it stood when the customer complained: a card escalated later was a warning then.
        "severity": "critical" if card.severity == "critical" and card.escalated_at is not None
        and card.escalated_at <= when else "warning",
        "raised_at": iso(card.raised_at),
        "lead_s": int((when - card.raised_at).total_seconds()),
        "acknowledged": card.acknowledged_at is not None and card.acknowledged_at <= when,
        "acted": first_instruction is not None and first_instruction <= when,
        "resolved_before": card.resolved_at is not None and card.resolved_at <= when,
    }
