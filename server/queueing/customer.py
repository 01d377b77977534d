"""What staff know of one customer: the context a teller sees at the counter (how long they waited,
their language, priority, the transfers and hold notes on the way, and what the lobby recorded about
them), and the customers' ratings with their comments. Reads only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.actors import Actor
from server.config import Config
from server.errors import Forbidden, NotFound
from server.models import Alert, Complaint, Counter, Event, Instruction, Service, Staff, Ticket
from server.queueing import reads
from server.queueing.views import iso
from server.runtime import Runtime

# The ticket's events a teller is shown, in order: how it came to the counter.
HISTORY_ACTIONS = ("issue", "call", "recall", "start", "hold", "transfer", "no_show", "return",
                   "undo_complete", "undo_no_show", "complete", "cancel", "warn_late")


def ticket_context(rt: Runtime, actor: Actor, branch_id: int, ticket_id: int) -> dict[str, Any]:
    """The customer's context for staff: the ticket, how long it waited (to its first call, or until
    now), its language and priority, its history (each call, hold, transfer and return with the
    counter, the note and who did it), and what the lobby recorded about it: the alerts raised on
    it, the manager's instructions naming it and the complaints recorded against it."""
    if not actor.is_staff:
        raise Forbidden("for staff", code="staff_only")
    now = rt.clock.now()
    config = rt.config_for(branch_id)
    with rt.reading() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.branch_id != branch_id:
            raise NotFound(f"there is no ticket {ticket_id} here", code="unknown_ticket")
        view = reads.ticket_with_live_estimate(session, config, ticket, now, for_holder=False)
        view["note"] = ticket.note
        waited_until = ticket.called_at or ticket.finished_at or now
        return {
            "ticket": view,
            "waited_s": int((waited_until - ticket.issued_at).total_seconds()),
            "lang": ticket.lang,
            "priority": bool(ticket.priority),
            "note": ticket.note,
            "history": _history(session, ticket),
            "lobby": _lobby(session, config, ticket),
        }


def _history(session: Session, ticket: Ticket) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Event.at, Event.action, Event.data, Staff.display_name)
        .outerjoin(Staff, Staff.id == Event.staff_id)
        .where(Event.entity == "ticket", Event.entity_id == ticket.id, Event.action.in_(HISTORY_ACTIONS))
        .order_by(Event.id)
    ).all()
    out = []
    for at, action, data, by in rows:
        data = data or {}
        out.append({"at": iso(at), "action": action, "counter": data.get("counter"), "note": data.get("note"),
                    "from_service": data.get("from_service"), "to_service": data.get("to_service"),
                    "to_counter": data.get("to_counter"), "reason": data.get("reason"), "by": by})
    return out


def _lobby(session: Session, config: Config, ticket: Ticket) -> list[dict[str, Any]]:
    """What the lobby recorded about the ticket, oldest first."""
    items: list[dict[str, Any]] = []
    for alert in session.scalars(select(Alert).where(Alert.branch_id == ticket.branch_id,
                                                     Alert.ticket_id == ticket.id).order_by(Alert.id)):
        items.append({"kind": "alert", "at": iso(alert.raised_at), "rule": alert.rule, "text": alert.message,
                      "acknowledged": alert.acknowledged_at is not None, "resolved": alert.resolved_at is not None})
    rows = session.execute(
        select(Instruction, Counter.number).join(Counter, Counter.id == Instruction.counter_id)
        .where(Instruction.ticket_id == ticket.id).order_by(Instruction.id)
    ).all()
    for instruction, number in rows:
        items.append({"kind": "instruction", "at": iso(instruction.issued_at), "instruction": instruction.kind,
                      "counter": number, "text": instruction.text, "answer": instruction.answer})
    for complaint in session.scalars(select(Complaint).where(Complaint.ticket_id == ticket.id)
                                     .order_by(Complaint.id)):
        items.append({"kind": "complaint", "at": iso(complaint.recorded_at), "complaint": complaint.kind,
                      "text": complaint.text})
    items.sort(key=lambda item: item["at"] or "")
    return items


# --- ratings -------------------------------------------------------------------------------------


def rating_view(session: Session, ticket: Ticket) -> dict[str, Any]:
    """One rating as the dashboard lists it: the ticket, stars, comment, counter and teller."""
    return _ratings(session, Ticket.id == ticket.id)[0]


def latest_ratings(rt: Runtime, actor: Actor, branch_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The branch's latest ratings, newest first (managers)."""
    if not actor.is_manager:
        raise Forbidden("for the lobby manager", code="wrong_role")
    with rt.reading() as session:
        return _ratings(session, Ticket.branch_id == branch_id, Ticket.rated_at.isnot(None), limit=limit)


def _ratings(session: Session, *where: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """The ratings of the tickets ``where`` selects, newest first, with their counter, teller and
    service in the same query."""
    rows = session.execute(
        select(Ticket, Counter.number, Staff.display_name, Service.code)
        .outerjoin(Counter, Counter.id == Ticket.counter_id)
        .outerjoin(Staff, Staff.id == Ticket.served_by_staff_id)
        .join(Service, Service.id == Ticket.service_id)
        .where(*where)
        .order_by(Ticket.rated_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).all()
    return [{"ticket": {"id": ticket.id, "number": ticket.number}, "service": code, "stars": ticket.rating,
             "comment": ticket.rating_comment, "counter": number, "teller": teller, "rated_at": iso(ticket.rated_at)}
            for ticket, number, teller, code in rows]
