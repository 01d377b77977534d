"""Commands at a counter: what tellers (and managers) do there. One function per command, each one
transaction that checks who may act and whether the counter's state allows it
(:mod:`~server.queueing.machine`), changes the rows, records each change in the unit of work, and
says what happened (:mod:`~server.queueing.announce` knows who hears it).

Concurrency: every command first locks the counter row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already holds the database write lock), and call-next claims its ticket
with one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``, so two tellers
pressing at the same instant never get the same customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, case, false, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.actors import Actor
from server.config import PAUSE_REASONS, Config
from server.errors import Conflict, Forbidden, Invalid, NotFound, require_one_of
from server.models import Counter, Ticket
from server.queueing import announce, policy, reads
from server.queueing.catalog import counter_services, services_by_code, services_by_id
from server.queueing.machine import (
    CounterState,
    InvalidTransition,
    Outcome,
    TicketStatus,
    counter_step,
    ticket_step,
)
from server.queueing.numbering import business_day, day_start_utc
from server.queueing.tickets import wait_again
from server.runtime import Runtime, UnitOfWork
from server.vocabulary import HELP_REASONS

UNDOABLE = frozenset({"complete", "no_show"})

# --- signing in and out --------------------------------------------------------------------------


def open_counter(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Sign the caller in at a closed counter. Opening one's own open counter again is a no-op."""
    if not actor.is_staff:
        raise Forbidden("only staff sign in at a counter", code="staff_only")
    now = rt.clock.now()
    try:
        with rt.uow() as uow:
            session = uow.session
            counter = _lock_counter(session, branch_id, number)
            if counter.staff_id == actor.id and counter.state != CounterState.CLOSED.value:
                return reads.counter_views(session, rt.config_for(branch_id), branch_id, number)[0]
            if counter.state != CounterState.CLOSED.value:
                raise Conflict(f"counter {number} is already open", code="counter_taken")
            elsewhere = session.scalar(select(Counter).where(Counter.staff_id == actor.id))
            if elsewhere is not None:
                raise Conflict(
                    f"you are signed in at counter {elsewhere.number}; close it first", code="already_signed_in"
                )
            counter.staff_id = actor.id
            counter.opened_at = now
            _step(uow, actor, counter, "open", now)
            session.flush()
            view = announce.counter_changed(uow, counter, current=None)
            announce.queue_changed(uow, branch_id, now)
            uow.commit()
            return view
    except IntegrityError:
        raise Conflict("you are already signed in at another counter", code="already_signed_in") from None


def close_counter(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Sign out of a free or paused counter."""
    with _at_counter(rt, actor, branch_id, number, "close") as (uow, counter, now):
        data = {"staff_id": counter.staff_id}
        counter.staff_id = None
        counter.pause_reason = None
        counter.opened_at = None
        return _counter_moved(uow, actor, counter, "close", now, data)


# --- pauses --------------------------------------------------------------------------------------


def pause(rt: Runtime, actor: Actor, branch_id: int, number: int, reason: str) -> dict[str, Any]:
    """Pause a free counter, with a reason (break, meeting, cash_replenish, other)."""
    require_one_of(PAUSE_REASONS, reason, "pause reason", "unknown_reason")
    with _at_counter(rt, actor, branch_id, number, "pause") as (uow, counter, now):
        counter.pause_reason = reason
        return _counter_moved(uow, actor, counter, "pause", now, {"reason": reason})


def resume(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """End a pause."""
    with _at_counter(rt, actor, branch_id, number, "resume") as (uow, counter, now):
        data = {"reason": counter.pause_reason}
        counter.pause_reason = None
        return _counter_moved(uow, actor, counter, "resume", now, data)


def _counter_moved(uow: UnitOfWork, actor: Actor, counter: Counter, action: str, now: datetime,
                   data: dict[str, Any]) -> dict[str, Any]:
    """Record a change of a counter without a customer (open, pause, resume, close) and announce it:
    the counter, and the queue's estimates, which count the counters serving."""
    _step(uow, actor, counter, action, now, data)
    uow.session.flush()
    view = announce.counter_changed(uow, counter)
    announce.queue_changed(uow, counter.branch_id, now)
    uow.commit()
    return view


# --- the customer at the counter -----------------------------------------------------------------


def call_next(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Call the next customer to a counter, in the call order of :mod:`~server.queueing.policy`:
    tickets sent to this counter first, then the counter's services in its order (under
    ``at_risk_first`` the services with an at-risk ticket first), each service's returned no-shows,
    priority customers (within ``queue.priority_share``) and then everyone else."""
    with _at_counter(rt, actor, branch_id, number, "call_next") as (uow, counter, now):
        session = uow.session
        config = rt.config_for(branch_id)
        at_risk: set[int] = set()
        if config.queue.policy == "at_risk_first":
            at_risk = reads.at_risk_service_ids(session, config, branch_id, now)
        minutes = {service_id: service.expected_minutes
                   for service_id, service in services_by_id(session, branch_id).items()} if at_risk else None
        ranks = policy.service_ranks(counter_services(session, branch_id).get(counter.id, []), at_risk, minutes)
        priority_ok = _priority_may_go_first(session, config, branch_id, list(ranks), now)
        ticket_id = _claim_next(session, branch_id, counter, ranks, priority_ok, now)
        if ticket_id is None:
            raise NotFound(f"nobody is waiting for counter {number}'s services", code="queue_empty")
        return _called(uow, actor, counter, ticket_id, TicketStatus.WAITING.value, "call_next", now)


def call_ticket(rt: Runtime, actor: Actor, branch_id: int, number: int, ticket_id: int) -> dict[str, Any]:
    """Call one chosen ticket, waiting or held, to a free counter that may serve it (a customer back
    with the missing document, one the manager asked for): claimed in one statement, like call-next,
    so a ticket is never called twice."""
    with _at_counter(rt, actor, branch_id, number, "call") as (uow, counter, now):
        session = uow.session
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or ticket.branch_id != branch_id:
            raise NotFound(f"there is no ticket {ticket_id} here", code="unknown_ticket")
        if ticket.status not in reads.IN_LINE:
            raise Conflict(f"ticket {ticket.number} is not waiting (it is {ticket.status.replace('_', ' ')})",
                           code="not_waiting")
        served = counter_services(session, branch_id).get(counter.id, [])
        if ticket.service_id not in served and ticket.directed_counter_id != counter.id:
            raise Forbidden(f"counter {number} does not serve ticket {ticket.number}'s service",
                            code="not_your_service")
        before = ticket.status
        claim = (
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == before)
            .values(**_call_values(counter, now), called_at=func.coalesce(Ticket.called_at, now), held_at=None)
            .returning(Ticket.id)
            .execution_options(synchronize_session=False)
        )
        if session.execute(claim).scalar_one_or_none() is None:
            raise Conflict(f"ticket {ticket.number} has just been called elsewhere", code="not_waiting")
        return _called(uow, actor, counter, ticket_id, before, "call", now)


def _called(uow: UnitOfWork, actor: Actor, counter: Counter, ticket_id: int, before: str, action: str,
            now: datetime) -> dict[str, Any]:
    """Record and announce a ticket the counter has just claimed (``action``: call_next or call)."""
    session = uow.session
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    assert ticket is not None
    uow.record(actor, now, ticket, "call", before, ticket.status, {"counter": counter.number, "by": action})
    _step(uow, actor, counter, action, now, {"ticket_id": ticket.id})
    view = announce.ticket_changed(uow, ticket, now)
    announce.ticket_called(uow, ticket, counter, recall=False)
    announce.counter_changed(uow, counter, current=ticket)
    announce.queue_changed(uow, counter.branch_id, now)
    uow.commit()
    return view


def _call_values(counter: Counter, now: datetime) -> dict[str, Any]:
    """What a call writes on the ticket: it is this counter's now, out of every lane."""
    return {"status": TicketStatus.CALLED.value, "counter_id": counter.id, "last_called_at": now,
            "served_by_staff_id": counter.staff_id, "returned_at": None, "directed_counter_id": None}


def _priority_may_go_first(session: Session, config: Config, branch_id: int, service_ids: list[int],
                           now: datetime) -> list[int] | None:
    """The services whose priority tickets may go first now (:func:`policy.priority_may_go_first`
    over each one's latest calls today); None when ``queue.priority_share`` lets them always."""
    share = config.queue.priority_share
    if share >= 1.0:
        return None
    since = day_start_utc(business_day(now, config.tz), config.tz)
    allowed = []
    for service_id in service_ids:
        recent = session.scalars(
            select(Ticket.priority)
            .where(Ticket.branch_id == branch_id, Ticket.service_id == service_id, Ticket.called_at >= since)
            .order_by(Ticket.called_at.desc(), Ticket.id.desc())
            .limit(policy.PRIORITY_WINDOW)
        ).all()
        if policy.priority_may_go_first([bool(p) for p in recent], share):
            allowed.append(service_id)
    return allowed


def _claim_next(session: Session, branch_id: int, counter: Counter, ranks: Mapping[int, int],
                priority_ok: list[int] | None, now: datetime) -> int | None:
    """Claim the first waiting ticket in the call order for the counter (:func:`policy.call_key`:
    its own directed tickets, then ``ranks``, service id -> rank), in one statement; its id, or
    None when nobody waits for it."""
    mine = Ticket.directed_counter_id == counter.id
    ours = and_(Ticket.service_id.in_(list(ranks)), Ticket.directed_counter_id.is_(None)) if ranks else false()
    lane = reads.queue_lane(None if priority_ok is None else Ticket.service_id.in_(priority_ok))
    rank = case(dict(ranks), value=Ticket.service_id, else_=0) if ranks else literal(0)
    pick = (
        select(Ticket.id)
        .where(Ticket.branch_id == branch_id, Ticket.status == TicketStatus.WAITING.value, or_(mine, ours))
        .order_by(case((mine, 0), else_=1), rank, lane, reads.queue_time(), Ticket.id)  # policy.call_key
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(Ticket)
        .where(Ticket.id == pick, Ticket.status == TicketStatus.WAITING.value)
        .values(**_call_values(counter, now), called_at=now)
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(claim).scalar_one_or_none()


def recall(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Call the counter's current customer again (the display announces it once more)."""
    with _with_customer(rt, actor, branch_id, number, "recall") as (uow, counter, ticket, now):
        ticket.recall_count += 1
        ticket.last_called_at = now
        _ticket_step(uow, actor, ticket, "recall", now, {"counter": number, "recall_count": ticket.recall_count})
        announce.ticket_called(uow, ticket, counter, recall=True, called_at=now)
        view = announce.ticket_changed(uow, ticket, now)
        uow.commit()
        return view


def start_service(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """The called customer has arrived at the counter: service starts."""
    with _with_customer(rt, actor, branch_id, number, "start") as (uow, counter, ticket, now):
        ticket.served_at = now
        return _customer_moved(uow, actor, counter, ticket, "start", now, {"counter": number})


def complete(rt: Runtime, actor: Actor, branch_id: int, number: int, outcome: str = "done") -> dict[str, Any]:
    """Finish the customer being served, with an outcome (done / redo / error)."""
    require_one_of(Outcome, outcome, "outcome", "unknown_outcome")
    with _with_customer(rt, actor, branch_id, number, "complete") as (uow, counter, ticket, now):
        ticket.outcome = outcome
        ticket.finished_at = now
        _clear_help(counter)
        return _customer_moved(uow, actor, counter, ticket, "complete", now, {"counter": number, "outcome": outcome})


def no_show(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """The called customer did not come: accepted once ``queue.no_show_grace_s`` has passed since
    the first call (the customer has to hear it and walk up), else 409 ``too_early``."""
    with _with_customer(rt, actor, branch_id, number, "no_show") as (uow, counter, ticket, now):
        grace = rt.config_for(branch_id).queue.no_show_grace_s
        called = ticket.called_at or now
        left = grace - (now - called).total_seconds()
        if left > 0:
            raise Conflict(f"{ticket.number} was called {int((now - called).total_seconds())} s ago: a no-show "
                           f"can be recorded in {math.ceil(left)} s", code="too_early")
        ticket.finished_at = now
        _clear_help(counter)
        return _customer_moved(uow, actor, counter, ticket, "no_show", now, {"counter": number})


def hold(rt: Runtime, actor: Actor, branch_id: int, number: int, note: str | None = None) -> dict[str, Any]:
    """The counter's customer steps aside (to fetch a document, say): the ticket is ``held``, out of
    every queue, keeping its number, until a counter calls it back (:func:`call_ticket`); the
    counter is free to call the next. ``note`` is for whoever calls it back."""
    with _with_customer(rt, actor, branch_id, number, "hold") as (uow, counter, ticket, now):
        note = (note or "").strip() or None
        ticket.held_at = now
        if note is not None:
            ticket.note = note
        _clear_help(counter)
        view = _customer_moved(uow, actor, counter, ticket, "hold", now, {"counter": number, "note": note},
                               commit=False)
        announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return view


def undo(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Undo the counter's last complete or no-show (a wrong key) within ``queue.undo_window_s``, while
    nothing else has happened at the counter: the customer is back at the counter as before
    (being served, or called), the outcome and finish forgotten. 409 ``nothing_to_undo`` or
    ``undo_expired``; a ticket already rated stays done (``already_rated``)."""
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        counter = _lock_counter(session, branch_id, number)
        _authorize(actor, counter)
        action = f"undo_{counter.undo_action}"
        if (counter.undo_ticket_id is None or counter.undo_at is None or counter.state != CounterState.IDLE.value
                or action not in ("undo_complete", "undo_no_show")):
            raise Conflict(f"counter {number} has nothing to undo", code="nothing_to_undo")
        window = rt.config_for(branch_id).queue.undo_window_s
        if (now - counter.undo_at).total_seconds() > window:
            raise Conflict(f"an outcome can be undone for {window} s only", code="undo_expired")
        ticket = session.get(Ticket, counter.undo_ticket_id, with_for_update=True)
        if ticket is None:
            raise Conflict(f"counter {number} has nothing to undo", code="nothing_to_undo")
        if ticket.rating is not None:
            raise Conflict(f"{ticket.number} has already been rated", code="already_rated")
        try:
            ticket_step(TicketStatus(ticket.status), action)
        except InvalidTransition as exc:
            raise Conflict(str(exc), code="nothing_to_undo") from None
        undone = {"counter": number, "outcome": ticket.outcome,
                  "finished_at": ticket.finished_at.isoformat() if ticket.finished_at else None}
        ticket.finished_at = None
        ticket.outcome = None
        _ticket_step(uow, actor, ticket, action, now, undone)
        _step(uow, actor, counter, action, now, {"ticket_id": ticket.id})
        # The counter is back in the state it was in since it began: the service, or the call.
        counter.state_since = (ticket.served_at if action == "undo_complete" else ticket.last_called_at) or now
        session.flush()
        announce.counter_changed(uow, counter, current=ticket)
        view = announce.ticket_changed(uow, ticket, now)
        uow.commit()
        return view


def transfer(rt: Runtime, actor: Actor, branch_id: int, number: int, service_code: str | None = None,
             to_counter: int | None = None, note: str | None = None) -> dict[str, Any]:
    """Send the current customer on: to another service's queue, keeping number and place by issue
    time (the ticket waits again, its wait counted from now, no counter holds it), or to one
    counter's own queue (``to_counter``: it calls the ticket before its services' queues; the
    ticket takes that counter's first service unless it serves the ticket's own or
    ``service_code`` names one). ``note`` is for the next teller."""
    if service_code is None and to_counter is None:
        raise Invalid("name a service or a counter to transfer to", code="no_target")
    with _with_customer(rt, actor, branch_id, number, "transfer") as (uow, counter, ticket, now):
        session = uow.session
        target = services_by_code(session, branch_id).get(service_code) if service_code is not None else None
        if service_code is not None and target is None:
            raise Invalid(f"there is no service {service_code!r} here", code="unknown_service")
        directed = _transfer_counter(session, branch_id, number, to_counter) if to_counter is not None else None
        if directed is not None:
            served = counter_services(session, branch_id).get(directed.id, [])
            if target is not None and target.id not in served:
                raise Invalid(f"counter {to_counter} does not serve {service_code}", code="not_served_there")
            if target is None:
                target = services_by_id(session, branch_id)[ticket.service_id if ticket.service_id in served
                                                            else served[0]]
        assert target is not None
        if directed is None and target.id == ticket.service_id:
            raise Invalid(f"the ticket is already in service {service_code}", code="same_service")
        source = services_by_id(session, branch_id).get(ticket.service_id)
        note = (note or "").strip() or None
        data = {"counter": number, "from_service": source.code if source else None, "to_service": target.code,
                "to_counter": to_counter, "note": note}
        ticket.service_id = target.id
        wait_again(ticket, now)
        ticket.directed_counter_id = directed.id if directed is not None else None
        if note is not None:
            ticket.note = note
        _clear_help(counter)
        view = _customer_moved(uow, actor, counter, ticket, "transfer", now, data, commit=False)
        announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return view


def _transfer_counter(session: Session, branch_id: int, number: int, to_counter: int) -> Counter:
    """The open counter a customer is sent to (not the sending one)."""
    if to_counter == number:
        raise Invalid("the customer is already at this counter", code="same_counter")
    directed: Counter | None = session.scalar(select(Counter).where(
        Counter.branch_id == branch_id, Counter.number == to_counter, Counter.active.is_(True)))
    if directed is None:
        raise NotFound(f"there is no counter {to_counter} here", code="unknown_counter")
    if directed.state == CounterState.CLOSED.value:
        raise Conflict(f"counter {to_counter} is closed", code="counter_closed")
    return directed


def _customer_moved(uow: UnitOfWork, actor: Actor, counter: Counter, ticket: Ticket, action: str, now: datetime,
                    data: dict[str, Any], *, commit: bool = True) -> dict[str, Any]:
    """Record ``action`` on the counter's customer and on the counter, and announce both."""
    _ticket_step(uow, actor, ticket, action, now, data)
    _step(uow, actor, counter, action, now, {"ticket_id": ticket.id})
    announce.counter_changed(uow, counter, current=ticket if ticket.status in reads.ACTIVE_TICKET else None)
    view = announce.ticket_changed(uow, ticket, now)
    if commit:
        uow.commit()
    return view


# --- help from the manager -----------------------------------------------------------------------


def request_help(rt: Runtime, actor: Actor, branch_id: int, number: int, reason: str = "authorization",
                 text: str | None = None) -> dict[str, Any]:
    """Page the manager about the current customer: for an authorization, a documents question, a
    difficult customer or another ``reason``, with an optional word (``text``). Asking again while
    a request is open changes nothing."""
    require_one_of(HELP_REASONS.codes, reason, "help reason", "unknown_reason")
    with _at_counter(rt, actor, branch_id, number, "request_help") as (uow, counter, now):
        session = uow.session
        if counter.help_requested_at is not None:
            return reads.counter_views(session, rt.config_for(branch_id), branch_id, number)[0]
        counter.help_requested_at = now
        counter.help_reason = reason
        counter.help_text = (text or "").strip() or None
        ticket = reads.active_ticket(session, counter.id)
        _step(uow, actor, counter, "request_help", now,
              {"ticket_id": ticket.id if ticket is not None else None, "reason": reason})
        session.flush()
        view = announce.counter_changed(uow, counter)
        if ticket is not None:
            announce.ticket_changed(uow, ticket, now)
        uow.commit()
        return view


def help_on_the_way(uow: UnitOfWork, actor: Actor, counter_id: int, now: datetime, alert_id: int) -> bool:
    """A manager answered the counter's help request "on my way" (alert ``alert_id``), inside the
    caller's unit of work: the teller's console and the customer's phone hear that someone is
    coming; the request stays open until it is done. False when there is no open request or
    someone is already on the way (nothing changes)."""
    session = uow.session
    counter = session.get(Counter, counter_id, with_for_update=True)
    if counter is None or counter.help_requested_at is None or counter.help_responded_at is not None:
        return False
    counter.help_responder_id = actor.staff_id
    counter.help_responded_at = now
    uow.record(actor, now, counter, "help_on_the_way", counter.state, counter.state,
               {"number": counter.number, "alert_id": alert_id})
    _help_moved(uow, counter, now)
    return True


def answer_help(uow: UnitOfWork, actor: Actor, counter_id: int, now: datetime, alert_id: int) -> bool:
    """A manager is done with the counter's help request (alert ``alert_id``), inside the caller's
    unit of work: the request is cleared and the counter and its customer's phone hear it. False
    when the counter no longer asks for help (nothing changes)."""
    session = uow.session
    counter = session.get(Counter, counter_id, with_for_update=True)
    if counter is None or counter.help_requested_at is None:
        return False
    _clear_help(counter)
    uow.record(actor, now, counter, "help_answered", counter.state, counter.state,
               {"number": counter.number, "alert_id": alert_id})
    _help_moved(uow, counter, now)
    return True


def _help_moved(uow: UnitOfWork, counter: Counter, now: datetime) -> None:
    uow.session.flush()
    announce.counter_changed(uow, counter)
    ticket = reads.active_ticket(uow.session, counter.id)
    if ticket is not None:
        announce.ticket_changed(uow, ticket, now)


def _clear_help(counter: Counter) -> None:
    """The counter's help request is over (answered, or its customer has left)."""
    counter.help_requested_at = None
    counter.help_reason = None
    counter.help_text = None
    counter.help_responder_id = None
    counter.help_responded_at = None


# --- the checks every command makes --------------------------------------------------------------


@contextmanager
def _at_counter(
    rt: Runtime, actor: Actor, branch_id: int, number: int, action: str
) -> Iterator[tuple[UnitOfWork, Counter, datetime]]:
    """Open a transaction, lock the counter, and check the caller may do ``action`` there now."""
    now = rt.clock.now()
    with rt.uow() as uow:
        counter = _lock_counter(uow.session, branch_id, number)
        _authorize(actor, counter)
        try:
            counter_step(CounterState(counter.state), action)
        except InvalidTransition as exc:
            raise Conflict(str(exc).replace("the counter", f"counter {counter.number}"),
                           code="invalid_transition") from None
        yield uow, counter, now


@contextmanager
def _with_customer(
    rt: Runtime, actor: Actor, branch_id: int, number: int, action: str
) -> Iterator[tuple[UnitOfWork, Counter, Ticket, datetime]]:
    """:func:`_at_counter`, and the counter's current customer, whose state must allow ``action``."""
    with _at_counter(rt, actor, branch_id, number, action) as (uow, counter, now):
        ticket = reads.active_ticket(uow.session, counter.id)
        if ticket is None:  # a counter calling or serving always has its ticket; be explicit anyway
            raise Conflict(f"counter {number} has no current customer", code="no_current_ticket")
        try:
            ticket_step(TicketStatus(ticket.status), action)
        except InvalidTransition as exc:
            raise Conflict(str(exc), code="invalid_transition") from None
        yield uow, counter, ticket, now


@cache
def _lock_counter_statement() -> Any:
    return (select(Counter)
            .where(Counter.branch_id == bindparam("branch_id"), Counter.number == bindparam("number"),
                   Counter.active.is_(True))
            .with_for_update())


def _lock_counter(session: Session, branch_id: int, number: int) -> Counter:
    counter: Counter | None = session.scalar(_lock_counter_statement(), {"branch_id": branch_id, "number": number})
    if counter is None:
        raise NotFound(f"there is no counter {number} here", code="unknown_counter")
    return counter


def _authorize(actor: Actor, counter: Counter) -> None:
    """Tellers act only on the counter they are signed in at; managers on any of their branch."""
    if not actor.is_staff:
        raise Forbidden("only staff act on counters", code="staff_only")
    if actor.is_manager:
        return
    if counter.staff_id != actor.id:
        raise Forbidden(f"you are not signed in at counter {counter.number}", code="not_your_counter")


def _step(uow: UnitOfWork, actor: Actor, counter: Counter, action: str, now: datetime,
          data: dict[str, Any] | None = None) -> None:
    """Move the counter by ``action`` (checked by :func:`_at_counter`) and record it."""
    before = counter.state
    after = counter_step(CounterState(before), action).value
    if after != before:
        counter.state = after
        counter.state_since = now
    if action in UNDOABLE:  # the counter's last outcome, which it may undo for a while
        counter.undo_ticket_id, counter.undo_action, counter.undo_at = (data or {}).get("ticket_id"), action, now
    else:  # anything else done at the counter ends that chance
        counter.undo_ticket_id, counter.undo_action, counter.undo_at = None, None, None
    uow.record(actor, now, counter, action, before, after, {"number": counter.number, **(data or {})})


def _ticket_step(uow: UnitOfWork, actor: Actor, ticket: Ticket, action: str, now: datetime,
                 data: dict[str, Any]) -> None:
    """Move the ticket by ``action`` (checked by :func:`_with_customer`) and record it."""
    before = ticket.status
    ticket.status = ticket_step(TicketStatus(before), action).value
    uow.session.flush()
    uow.record(actor, now, ticket, action, before, ticket.status, data)
