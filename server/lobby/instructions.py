"""Instructions: the lobby manager asks a counter to do something — call the next customer, end a
pause, serve a particular customer, come to the desk, or read a note — and its teller answers
"done" or "cannot" (with a reason). The console hears the instruction at once (Socket.IO
``instruction``), the manager hears the answer (``instruction_answered``); an instruction not
answered within ``[alerts] instruction_answer_s`` is flagged on the dashboard. Every instruction,
answer and time is kept (the ``instructions`` table) and reported per teller.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.actors import Actor
from server.errors import Conflict, Forbidden, Invalid, NotFound, require_one_of
from server.models import Counter, Instruction, Staff, Ticket
from server.queueing.catalog import counter_services
from server.queueing.machine import CounterState, TicketStatus
from server.queueing.views import iso
from server.rooms import Audience
from server.runtime import Runtime
from server.vocabulary import INSTRUCTION_ANSWERS, INSTRUCTION_KINDS

A = Audience
RECENT_S = 600  # answered instructions stay on the dashboard this long


def instruct(
    rt: Runtime, actor: Actor, branch_id: int, number: int, kind: str, *, ticket_id: int | None = None,
    text: str | None = None, alert_id: int | None = None,
) -> dict[str, Any]:
    """Send an instruction to the teller at counter ``number`` (managers). 409 when nobody is signed
    in there, or ``end_pause`` to a counter that is not paused; 422 for a ``serve_ticket`` without a
    waiting ticket the counter may serve, or a ``note`` without text."""
    if not actor.is_manager:
        raise Forbidden("only the lobby manager sends instructions", code="wrong_role")
    require_one_of(INSTRUCTION_KINDS.codes, kind, "instruction", "unknown_kind")
    text = (text or "").strip() or None
    if kind == "note" and text is None:
        raise Invalid("a note needs its text", code="text_required")
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        counter = session.scalar(select(Counter).where(Counter.branch_id == branch_id, Counter.number == number,
                                                       Counter.active.is_(True)))
        if counter is None:
            raise NotFound(f"there is no counter {number} here", code="unknown_counter")
        if counter.staff_id is None or counter.state == CounterState.CLOSED.value:
            raise Conflict(f"nobody is signed in at counter {number}", code="counter_closed")
        if kind == "end_pause" and counter.state != CounterState.PAUSED.value:
            raise Conflict(f"counter {number} is not paused", code="not_paused")
        if kind == "serve_ticket":
            _check_ticket(session, branch_id, counter, ticket_id)
        elif ticket_id is not None:
            _ticket(session, branch_id, ticket_id)
        instruction = Instruction(branch_id=branch_id, counter_id=counter.id, teller_id=counter.staff_id, kind=kind,
                                  ticket_id=ticket_id, alert_id=alert_id, text=text, issued_by=actor.staff_id,
                                  issued_at=now)
        session.add(instruction)
        session.flush()
        view = instruction_view(session, rt, instruction, now)
        uow.tell("instruction", view, A.MANAGERS | A.PERSON, branch_id, staff_id=counter.staff_id)
        uow.commit()
        return view


def answer(rt: Runtime, actor: Actor, branch_id: int, instruction_id: int, reply: str,
           text: str | None = None) -> dict[str, Any]:
    """The teller at the instruction's counter answers it: ``done``, or ``cannot`` with a reason.
    403 for anyone else; 409 when it was already answered."""
    require_one_of(INSTRUCTION_ANSWERS.codes, reply, "answer", "unknown_answer")
    text = (text or "").strip() or None
    if reply == "cannot" and text is None:
        raise Invalid("say why it cannot be done", code="reason_required")
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        instruction = session.scalar(select(Instruction).where(Instruction.id == instruction_id,
                                                               Instruction.branch_id == branch_id).with_for_update())
        if instruction is None:
            raise NotFound(f"there is no instruction {instruction_id} here", code="unknown_instruction")
        counter = session.get(Counter, instruction.counter_id)
        assert counter is not None
        if not actor.is_staff or counter.staff_id != actor.id:
            raise Forbidden(f"the teller at counter {counter.number} answers this", code="not_your_counter")
        if instruction.answered_at is not None:
            raise Conflict("this instruction has been answered", code="already_answered")
        instruction.answer = reply
        instruction.answer_text = text
        instruction.answered_by = actor.staff_id
        instruction.answered_at = now
        session.flush()
        view = instruction_view(session, rt, instruction, now)
        uow.tell("instruction_answered", view, A.MANAGERS | A.PERSON, branch_id, staff_id=actor.staff_id)
        uow.commit()
        return view


def _ticket(session: Session, branch_id: int, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.branch_id != branch_id:
        raise NotFound(f"there is no ticket {ticket_id} here", code="unknown_ticket")
    return ticket


def _check_ticket(session: Session, branch_id: int, counter: Counter, ticket_id: int | None) -> None:
    if ticket_id is None:
        raise Invalid("serve_ticket names the ticket", code="ticket_required")
    ticket = _ticket(session, branch_id, ticket_id)
    if ticket.status not in (TicketStatus.WAITING.value, TicketStatus.HELD.value):  # (a held one is called back)
        raise Conflict(f"{ticket.number} is not waiting", code="not_waiting")
    if ticket.service_id not in counter_services(session, branch_id).get(counter.id, []):
        raise Invalid(f"counter {counter.number} does not serve {ticket.number}'s service", code="wrong_service")


def instruction_view(session: Session, rt: Runtime, instruction: Instruction, now: datetime) -> dict[str, Any]:
    """An instruction in the shape of the API (``overdue``: unanswered past its answer time)."""
    counter = session.get(Counter, instruction.counter_id)
    names = dict(session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(
        {i for i in (instruction.teller_id, instruction.issued_by, instruction.answered_by) if i is not None}))).all())
    ticket = session.get(Ticket, instruction.ticket_id) if instruction.ticket_id is not None else None
    due = instruction.issued_at + timedelta(seconds=rt.config_for(instruction.branch_id).alerts.instruction_answer_s)
    return {
        "id": instruction.id,
        "kind": instruction.kind,
        "counter": counter.number if counter is not None else None,
        "teller": names.get(instruction.teller_id) if instruction.teller_id is not None else None,
        "ticket": {"id": ticket.id, "number": ticket.number} if ticket is not None else None,
        "alert_id": instruction.alert_id,
        "text": instruction.text,
        "messages": INSTRUCTION_KINDS.label(instruction.kind),
        "issued_by": names.get(instruction.issued_by),
        "issued_at": iso(instruction.issued_at),
        "answer_due_at": iso(due),
        "overdue": instruction.answered_at is None and now >= due,
        "answer": instruction.answer,
        "answer_text": instruction.answer_text,
        "answered_by": names.get(instruction.answered_by) if instruction.answered_by is not None else None,
        "answered_at": iso(instruction.answered_at),
    }


def current_instructions(session: Session, rt: Runtime, branch_id: int, now: datetime, *,
                         staff_id: int | None = None) -> list[dict[str, Any]]:
    """What a screen shows: for a manager (``staff_id`` None) every unanswered instruction and those
    answered in the last ten minutes, newest first; for a teller the unanswered ones of the counter
    they hold."""
    query = select(Instruction).where(Instruction.branch_id == branch_id)
    if staff_id is None:
        query = query.where(or_(Instruction.answered_at.is_(None),
                                Instruction.answered_at >= now - timedelta(seconds=RECENT_S)))
    else:
        query = query.join(Counter, Counter.id == Instruction.counter_id).where(
            Counter.staff_id == staff_id, Instruction.answered_at.is_(None))
    rows = session.scalars(query.order_by(Instruction.issued_at.desc(), Instruction.id.desc()).limit(100))
    return [instruction_view(session, rt, row, now) for row in rows]


def list_instructions(rt: Runtime, actor: Actor, branch_id: int) -> list[dict[str, Any]]:
    """GET /instructions: a manager's current list, or a teller's own open instructions."""
    with rt.reading() as session:
        return current_instructions(session, rt, branch_id, rt.clock.now(),
                                    staff_id=None if actor.is_manager else actor.staff_id)
