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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.actors import Actor
from server.config import PAUSE_REASONS
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
from server.runtime import Runtime, UnitOfWork
from server.vocabulary import HELP_REASONS

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
                return reads.counter_views(session, branch_id, number)[0]
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
    the counter's services in its order, oldest ticket first, except that under ``at_risk_first``
    the services with an at-risk ticket (:func:`~server.queueing.policy.at_risk`) go first."""
    with _at_counter(rt, actor, branch_id, number, "call_next") as (uow, counter, now):
        session = uow.session
        config = rt.config_for(branch_id)
        at_risk: set[int] = set()
        if config.queue.policy == "at_risk_first":
            at_risk = reads.at_risk_service_ids(session, config, branch_id, now)
        minutes = {service_id: service.expected_minutes
                   for service_id, service in services_by_id(session, branch_id).items()} if at_risk else None
        ranks = policy.service_ranks(counter_services(session, branch_id).get(counter.id, []), at_risk, minutes)
        ticket_id = _claim_next(session, branch_id, counter, ranks, now)
        if ticket_id is None:
            raise NotFound(f"nobody is waiting for counter {number}'s services", code="queue_empty")
        ticket = session.get(Ticket, ticket_id, populate_existing=True)
        assert ticket is not None
        uow.record(actor, now, ticket, "call", TicketStatus.WAITING.value, ticket.status, {"counter": number})
        _step(uow, actor, counter, "call_next", now, {"ticket_id": ticket.id})
        view = announce.ticket_changed(uow, ticket, now)
        announce.ticket_called(uow, ticket, counter, recall=False)
        announce.counter_changed(uow, counter, current=ticket)
        announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return view


def _claim_next(
    session: Session, branch_id: int, counter: Counter, ranks: Mapping[int, int], now: datetime
) -> int | None:
    """Claim the first waiting ticket in the call order ``ranks`` (service id -> rank) for the
    counter, in one statement; its id, or None when nobody waits for the counter's services."""
    if not ranks:
        return None
    pick = (
        select(Ticket.id)
        .where(
            Ticket.branch_id == branch_id,
            Ticket.status == TicketStatus.WAITING.value,
            Ticket.service_id.in_(list(ranks)),
        )
        .order_by(case(dict(ranks), value=Ticket.service_id), Ticket.issued_at, Ticket.id)  # policy.call_key
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(Ticket)
        .where(Ticket.id == pick, Ticket.status == TicketStatus.WAITING.value)
        .values(
            status=TicketStatus.CALLED.value,
            counter_id=counter.id,
            called_at=now,
            last_called_at=now,
            served_by_staff_id=counter.staff_id,
        )
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
    """The called customer did not come."""
    with _with_customer(rt, actor, branch_id, number, "no_show") as (uow, counter, ticket, now):
        ticket.finished_at = now
        _clear_help(counter)
        return _customer_moved(uow, actor, counter, ticket, "no_show", now, {"counter": number})


def transfer(rt: Runtime, actor: Actor, branch_id: int, number: int, service_code: str) -> dict[str, Any]:
    """Send the current customer to another service's queue, keeping number and place by issue time:
    the ticket waits again (its wait counted from now), no counter holds it."""
    with _with_customer(rt, actor, branch_id, number, "transfer") as (uow, counter, ticket, now):
        session = uow.session
        target = services_by_code(session, branch_id).get(service_code)
        if target is None:
            raise Invalid(f"there is no service {service_code!r} here", code="unknown_service")
        if target.id == ticket.service_id:
            raise Invalid(f"the ticket is already in service {service_code}", code="same_service")
        source = services_by_id(session, branch_id).get(ticket.service_id)
        data = {"counter": number, "from_service": source.code if source else None, "to_service": target.code}
        ticket.service_id = target.id
        ticket.waiting_since = now
        ticket.counter_id = None
        ticket.called_at = None
        ticket.last_called_at = None
        ticket.served_at = None
        ticket.served_by_staff_id = None
        _clear_help(counter)
        view = _customer_moved(uow, actor, counter, ticket, "transfer", now, data, commit=False)
        announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return view


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
            return reads.counter_views(session, branch_id, number)[0]
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
    uow.record(actor, now, counter, action, before, after, {"number": counter.number, **(data or {})})


def _ticket_step(uow: UnitOfWork, actor: Actor, ticket: Ticket, action: str, now: datetime,
                 data: dict[str, Any]) -> None:
    """Move the ticket by ``action`` (checked by :func:`_with_customer`) and record it."""
    before = ticket.status
    ticket.status = ticket_step(TicketStatus(before), action).value
    uow.session.flush()
    uow.record(actor, now, ticket, action, before, ticket.status, data)
