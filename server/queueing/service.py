"""Service functions: each is one transaction that applies a rule of :mod:`machine` to the
database, writes the change to the event log, and announces it once committed.

Concurrency: every write transaction first locks what it changes — the counter row (``SELECT ...
FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the database write lock) —
and call-next claims its ticket with one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED) RETURNING``, so two tellers pressing at the same instant never get the same customer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import rooms
from server.actors import SYSTEM, Actor
from server.alerts.store import at_risk_service_ids
from server.config import PAUSE_REASONS
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models import Counter, Event, Ticket, TicketSequence
from server.queueing import queries
from server.queueing.machine import (
    CounterState,
    InvalidTransition,
    Outcome,
    TicketStatus,
    counter_step,
    ticket_step,
)
from server.queueing.numbering import business_day, format_number
from server.queueing.views import ticket_view
from server.runtime import Runtime, UnitOfWork

TOKEN_BYTES = 24  # 192 bits from `secrets`; the phone page URL cannot be guessed


# --- tickets -------------------------------------------------------------------------------------


def issue_ticket(
    rt: Runtime,
    actor: Actor,
    branch_id: int,
    service_code: str,
    lang: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Issue a ticket from a kiosk. Returns ``(ticket, created)``.

    The number comes from the per-service, per-day sequence, incremented in this same transaction:
    if anything fails the whole transaction rolls back, the number with it, so no gap appears. A
    repeated ``idempotency_key`` from the same kiosk returns the ticket it already produced.
    """
    if not actor.is_device("kiosk"):
        raise Forbidden("only a kiosk issues tickets", code="kiosk_only")
    config = rt.config_for(branch_id)
    languages = config.branch.languages
    if lang is None:
        lang = languages[0]
    elif lang not in languages:
        raise Invalid(f"language {lang!r} is not offered here (offered: {', '.join(languages)})", code="unknown_language")
    now = rt.clock.now()
    try:
        with rt.uow() as uow:
            session = uow.session
            if idempotency_key is not None:
                existing = _ticket_by_idempotency_key(session, actor, idempotency_key)
                if existing is not None:
                    return queries.ticket_with_live_estimate(session, config, existing, now, for_holder=True), False
            service = queries.services_by_code(session, branch_id).get(service_code)
            if service is None:
                raise Invalid(f"there is no service {service_code!r} here", code="unknown_service")
            day = business_day(now, config.tz)
            sequence = _next_sequence(session, service.id, day)
            load = queries.branch_load(session, config, branch_id, now)
            ahead = load.waiting.get(service.id, 0)
            ticket = Ticket(
                branch_id=branch_id,
                service_id=service.id,
                original_service_id=service.id,
                business_day=day,
                sequence=sequence,
                number=format_number(service.code, sequence),
                status=ticket_step(None, "issue").value,
                token=secrets.token_urlsafe(TOKEN_BYTES),
                lang=lang,
                people_ahead=ahead,
                estimated_wait_s=load.estimate(service.id, ahead + 1),
                issued_at=now,
                waiting_since=now,
                recall_count=0,
                device_id=actor.id,
                idempotency_key=idempotency_key,
            )
            session.add(ticket)
            session.flush()
            _log(session, branch_id, now, actor, "ticket", ticket.id, "issue", None, ticket.status,
                 {"number": ticket.number, "service": service.code})
            common = dict(service_code=service.code, counter_number=None, position=ahead + 1,
                          estimated_wait_s=ticket.estimated_wait_s)
            holder_view = ticket_view(ticket, public_url=rt.config.server.public_url, **common)
            holder_view.update(queries.holder_details(session, ticket, service))
            uow.emit("ticket_changed", ticket_view(ticket, **common), rooms.staff(branch_id))
            _emit_queue(uow, rt, branch_id, now, load=load.with_one_more(service.id))
            uow.commit()
            return holder_view, True
    except IntegrityError:
        # Two requests with the same idempotency key raced; the other one won. Hand back its ticket.
        if idempotency_key is None:
            raise
        with rt.reading() as session:
            existing = _ticket_by_idempotency_key(session, actor, idempotency_key)
            if existing is None:
                raise
            return queries.ticket_with_live_estimate(session, config, existing, now, for_holder=True), False


def _ticket_by_idempotency_key(session: Session, actor: Actor, key: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.device_id == actor.id, Ticket.idempotency_key == key))


def _next_sequence(session: Session, service_id: int, day: Any) -> int:
    """Increment (or start at 1) the day's counter for a service, atomically, and return it."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(TicketSequence)
        .values(service_id=service_id, business_day=day, last_number=1)
        .on_conflict_do_update(
            index_elements=[TicketSequence.service_id, TicketSequence.business_day],
            set_={"last_number": TicketSequence.last_number + 1},
        )
        .returning(TicketSequence.last_number)
    )
    return int(session.execute(statement).scalar_one())


def get_ticket_by_token(rt: Runtime, token: str) -> dict[str, Any]:
    """The ticket a phone page follows, with its live position and estimate."""
    with rt.reading() as session:
        ticket = ticket_row_by_token(session, token)
        return queries.ticket_with_live_estimate(session, rt.config_for(ticket.branch_id), ticket, rt.clock.now(),
                                                 for_holder=True)


def rate_ticket(rt: Runtime, token: str, stars: int, comment: str | None) -> dict[str, Any]:
    """The customer's rating of a finished service (1-5 stars, an optional comment), once."""
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        ticket = session.scalar(
            select(Ticket).where(Ticket.token == token).with_for_update()
        ) if 16 <= len(token) <= 64 else None
        if ticket is None:
            raise NotFound("no ticket has this code", code="unknown_ticket")
        if ticket.status != TicketStatus.DONE.value:
            raise Conflict("a ticket can be rated once its service is finished", code="not_finished")
        if ticket.rating is not None:
            raise Conflict("this ticket has already been rated", code="already_rated")
        ticket.rating = stars
        ticket.rating_comment = (comment or "").strip() or None
        ticket.rated_at = now
        _log(session, ticket.branch_id, now, Actor(kind="anonymous"), "ticket", ticket.id, "rate",
             ticket.status, ticket.status, {"stars": stars, "commented": ticket.rating_comment is not None})
        session.flush()
        view = queries.ticket_with_live_estimate(session, rt.config_for(ticket.branch_id), ticket, now, for_holder=True)
        uow.commit()
        return view


def ticket_row_by_token(session: Session, token: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.token == token)) if 16 <= len(token) <= 64 else None
    if ticket is None:
        raise NotFound("no ticket has this code", code="unknown_ticket")
    return ticket


# --- counters ------------------------------------------------------------------------------------


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
                return queries.counter_views(session, branch_id, number)[0]
            if counter.state != CounterState.CLOSED.value:
                raise Conflict(f"counter {number} is already open", code="counter_taken")
            elsewhere = session.scalar(select(Counter).where(Counter.staff_id == actor.id))
            if elsewhere is not None:
                raise Conflict(
                    f"you are signed in at counter {elsewhere.number}; close it first", code="already_signed_in"
                )
            counter.staff_id = actor.id
            counter.opened_at = now
            _change_counter(uow, rt, actor, counter, "open", now)
            session.flush()
            view = _emit_counter(uow, counter, current=None)
            _emit_queue(uow, rt, branch_id, now)
            uow.commit()
            return view
    except IntegrityError:
        raise Conflict("you are already signed in at another counter", code="already_signed_in") from None


def call_next(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Call the next customer to a counter.

    The first waiting ticket of the counter's first service that has one, oldest first. Under the
    ``at_risk_first`` policy, the services the counter may serve that have a ticket with an open
    short_queue_long_wait warning, waiting at least ``queue.at_risk_after_s``, go first (the
    shortest service first): a customer about to complain is worth a short detour from the
    counter's order. Within a service, tickets are always called in issue order.
    """
    with _acting_at(rt, actor, branch_id, number, "call_next") as (uow, counter, now):
        session = uow.session
        order = queries.counter_services(session, branch_id).get(counter.id, [])
        queue = rt.config_for(branch_id).queue
        at_risk = at_risk_service_ids(session, branch_id, now - timedelta(seconds=queue.at_risk_after_s)) \
            if queue.policy == "at_risk_first" else set()
        ticket_id = _claim_next(session, branch_id, counter, order, now, at_risk)
        if ticket_id is None:
            raise NotFound(f"nobody is waiting for counter {number}'s services", code="queue_empty")
        ticket = session.get(Ticket, ticket_id, populate_existing=True)
        assert ticket is not None
        _log(session, branch_id, now, actor, "ticket", ticket.id, "call", TicketStatus.WAITING.value, ticket.status,
             {"counter": number})
        _change_counter(uow, rt, actor, counter, "call_next", now, {"ticket_id": ticket.id})
        view = _emit_ticket(uow, rt, session, ticket, now)
        _emit_called(uow, session, ticket, counter, recall=False)
        _emit_counter(uow, counter, current=ticket)
        _emit_queue(uow, rt, branch_id, now)
        uow.commit()
        return view


def _claim_next(
    session: Session, branch_id: int, counter: Counter, order: list[int], now: Any, at_risk: set[int]
) -> int | None:
    if not order:
        return None
    rank = {service_id: i for i, service_id in enumerate(order)}
    risky = [service_id for service_id in order if service_id in at_risk]
    keys = []
    if risky:
        # At-risk queues first, and among them the shortest service: the cheapest detour for the
        # customers of the counter's own queues (ties in the counter's order).
        keys.append(case((Ticket.service_id.in_(risky), 0), else_=1))
        minutes = {service_id: service.expected_minutes
                   for service_id, service in queries.services_by_id(session, branch_id).items()}
        rank.update({service_id: i for i, service_id in enumerate(sorted(risky, key=minutes.__getitem__))})
    keys.append(case(rank, value=Ticket.service_id))
    pick = (
        select(Ticket.id)
        .where(
            Ticket.branch_id == branch_id,
            Ticket.status == TicketStatus.WAITING.value,
            Ticket.service_id.in_(order),
        )
        .order_by(*keys, Ticket.issued_at, Ticket.id)
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
    return _ticket_action(rt, actor, branch_id, number, "recall")


def start_service(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """The called customer has arrived at the counter: service starts."""
    return _ticket_action(rt, actor, branch_id, number, "start")


def complete(rt: Runtime, actor: Actor, branch_id: int, number: int, outcome: str = "done") -> dict[str, Any]:
    """Finish the customer being served, with an outcome (done / redo / error)."""
    if outcome not in Outcome.__members__.values():
        raise Invalid(f"unknown outcome {outcome!r} (use done, redo or error)", code="unknown_outcome")
    return _ticket_action(rt, actor, branch_id, number, "complete", outcome=outcome)


def no_show(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """The called customer did not come."""
    return _ticket_action(rt, actor, branch_id, number, "no_show")


def transfer(rt: Runtime, actor: Actor, branch_id: int, number: int, service_code: str) -> dict[str, Any]:
    """Send the current customer to another service's queue, keeping number and place by issue time."""
    return _ticket_action(rt, actor, branch_id, number, "transfer", service_code=service_code)


def _ticket_action(
    rt: Runtime,
    actor: Actor,
    branch_id: int,
    number: int,
    action: str,
    *,
    outcome: str | None = None,
    service_code: str | None = None,
) -> dict[str, Any]:
    with _acting_at(rt, actor, branch_id, number, action) as (uow, counter, now):
        session = uow.session
        ticket = queries.active_ticket(session, counter.id)
        if ticket is None:  # a counter calling or serving always has its ticket; be explicit anyway
            raise Conflict(f"counter {number} has no current customer", code="no_current_ticket")
        before = ticket.status
        try:
            ticket.status = ticket_step(TicketStatus(before), action).value
        except InvalidTransition as exc:
            raise Conflict(str(exc), code="invalid_transition") from None
        data: dict[str, Any] = {"counter": number}
        if action == "recall":
            ticket.recall_count += 1
            ticket.last_called_at = now
            data["recall_count"] = ticket.recall_count
        elif action == "start":
            ticket.served_at = now
        elif action == "complete":
            ticket.outcome = outcome
            ticket.finished_at = now
            data["outcome"] = outcome
        elif action == "no_show":
            ticket.finished_at = now
        elif action == "transfer":
            target = queries.services_by_code(session, branch_id).get(service_code or "")
            if target is None:
                raise Invalid(f"there is no service {service_code!r} here", code="unknown_service")
            if target.id == ticket.service_id:
                raise Invalid(f"the ticket is already in service {service_code}", code="same_service")
            source = queries.services_by_id(session, branch_id).get(ticket.service_id)
            data.update({"from_service": source.code if source else None, "to_service": target.code})
            ticket.service_id = target.id
            ticket.waiting_since = now
            ticket.counter_id = None
            ticket.called_at = None
            ticket.last_called_at = None
            ticket.served_at = None
            ticket.served_by_staff_id = None
        session.flush()
        _log(session, branch_id, now, actor, "ticket", ticket.id, action, before, ticket.status, data)
        if action != "recall":
            if action in ("complete", "no_show", "transfer"):
                counter.help_requested_at = None
            _change_counter(uow, rt, actor, counter, action, now, {"ticket_id": ticket.id})
            _emit_counter(uow, counter, current=ticket if ticket.status in queries.ACTIVE_TICKET else None)
        else:
            _emit_called(uow, session, ticket, counter, recall=True, called_at=now)
        view = _emit_ticket(uow, rt, session, ticket, now)
        if action == "transfer":
            _emit_queue(uow, rt, branch_id, now)
        uow.commit()
        return view


def pause(rt: Runtime, actor: Actor, branch_id: int, number: int, reason: str) -> dict[str, Any]:
    """Pause a free counter, with a reason (break, meeting, cash_replenish, other)."""
    if reason not in PAUSE_REASONS:
        raise Invalid(f"unknown pause reason {reason!r} (use {', '.join(PAUSE_REASONS)})", code="unknown_reason")
    return _counter_action(rt, actor, branch_id, number, "pause", reason=reason)


def resume(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """End a pause."""
    return _counter_action(rt, actor, branch_id, number, "resume")


def close_counter(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Sign out of a free or paused counter."""
    return _counter_action(rt, actor, branch_id, number, "close")


def request_help(rt: Runtime, actor: Actor, branch_id: int, number: int) -> dict[str, Any]:
    """Page the manager for authorization or help with the current customer. Asking twice is a no-op."""
    return _counter_action(rt, actor, branch_id, number, "request_help")


def _counter_action(
    rt: Runtime, actor: Actor, branch_id: int, number: int, action: str, *, reason: str | None = None
) -> dict[str, Any]:
    with _acting_at(rt, actor, branch_id, number, action) as (uow, counter, now):
        session = uow.session
        data: dict[str, Any] = {}
        if action == "pause":
            counter.pause_reason = reason
            data["reason"] = reason
        elif action == "resume":
            data["reason"] = counter.pause_reason
            counter.pause_reason = None
        elif action == "close":
            data["staff_id"] = counter.staff_id
            counter.staff_id = None
            counter.pause_reason = None
            counter.opened_at = None
        elif action == "request_help":
            if counter.help_requested_at is not None:
                return queries.counter_views(session, branch_id, number)[0]
            counter.help_requested_at = now
            ticket = queries.active_ticket(session, counter.id)
            data["ticket_id"] = ticket.id if ticket is not None else None
        _change_counter(uow, rt, actor, counter, action, now, data)
        session.flush()
        view = _emit_counter(uow, counter)
        if action == "request_help":
            ticket = queries.active_ticket(session, counter.id)
            if ticket is not None:
                _emit_ticket(uow, rt, session, ticket, now)
        else:
            _emit_queue(uow, rt, branch_id, now)
        uow.commit()
        return view


def close_previous_days(rt: Runtime, branch_id: int) -> int:
    """The day rollover: once the branch has opened on a new day, tickets still waiting from an
    earlier business day are closed as ``cancelled`` with reason ``day_end`` (one event each).
    Numbering already follows the calendar day in the branch's time zone, so it has restarted.
    Returns how many were closed; running it again closes nothing more."""
    config = rt.config_for(branch_id)
    now = rt.clock.now()
    local = now.astimezone(config.tz)
    if local.time() < config.branch.opening_time:
        return 0
    today = local.date()
    with rt.reading() as session:  # the usual answer is "nothing to do": find that out without locking
        if session.scalar(select(Ticket.id).where(Ticket.branch_id == branch_id, Ticket.status == "waiting",
                                                  Ticket.business_day < today).limit(1)) is None:
            return 0
    with rt.uow() as uow:
        session = uow.session
        stale = list(session.scalars(
            select(Ticket)
            .where(Ticket.branch_id == branch_id, Ticket.status == TicketStatus.WAITING.value,
                   Ticket.business_day < today)
            .with_for_update()
        ))
        if not stale:
            return 0
        for ticket in stale:
            before = ticket.status
            ticket.status = ticket_step(TicketStatus(before), "cancel").value
            ticket.cancel_reason = "day_end"
            ticket.finished_at = now
            _log(session, branch_id, now, SYSTEM, "ticket", ticket.id, "cancel", before, ticket.status,
                 {"reason": "day_end", "business_day": ticket.business_day.isoformat()})
        session.flush()
        for ticket in stale:
            _emit_ticket(uow, rt, session, ticket, now)
        _emit_queue(uow, rt, branch_id, now)
        uow.commit()
        return len(stale)


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def _acting_at(
    rt: Runtime, actor: Actor, branch_id: int, number: int, action: str
) -> Iterator[tuple[UnitOfWork, Counter, datetime]]:
    """Open a transaction, lock the counter, and check the caller may do ``action`` there now."""
    now = rt.clock.now()
    with rt.uow() as uow:
        counter = _lock_counter(uow.session, branch_id, number)
        _authorize(actor, counter)
        _check(counter, action)
        yield uow, counter, now


@cache
def _lock_counter_statement() -> Any:
    return (select(Counter)
            .where(Counter.branch_id == bindparam("branch_id"), Counter.number == bindparam("number"),
                   Counter.active.is_(True))
            .with_for_update())


def _lock_counter(session: Session, branch_id: int, number: int) -> Counter:
    counter = session.scalar(_lock_counter_statement(), {"branch_id": branch_id, "number": number})
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


def _check(counter: Counter, action: str) -> None:
    try:
        counter_step(CounterState(counter.state), action)
    except InvalidTransition as exc:
        raise Conflict(str(exc).replace("the counter", f"counter {counter.number}"), code="invalid_transition") from None


def _change_counter(
    uow: UnitOfWork, rt: Runtime, actor: Actor, counter: Counter, action: str, now: Any,
    data: dict[str, Any] | None = None,
) -> None:
    before = counter.state
    after = counter_step(CounterState(before), action).value
    if after != before:
        counter.state = after
        counter.state_since = now
    _log(uow.session, counter.branch_id, now, actor, "counter", counter.id, action, before, after,
         {"number": counter.number, **(data or {})})
    uow.changed_branches.add(counter.branch_id)


def _log(
    session: Session, branch_id: int, now: Any, actor: Actor, entity: str, entity_id: int, action: str,
    from_state: str | None, to_state: str, data: dict[str, Any] | None = None,
) -> None:
    event = Event(
        branch_id=branch_id,
        at=now,
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        staff_id=actor.staff_id,
        device_id=actor.device_id,
        data=data or None,
    )
    session.add(event)
    # The unit of work stamps its messages with the newest event id (see UnitOfWork.commit).
    session.info.setdefault("logged_events", []).append(event)


def _emit_ticket(uow: UnitOfWork, rt: Runtime, session: Session, ticket: Ticket, now: Any) -> dict[str, Any]:
    uow.changed_branches.add(ticket.branch_id)
    view = queries.ticket_with_live_estimate(session, rt.config_for(ticket.branch_id), ticket, now, for_holder=False)
    uow.emit("ticket_changed", view, rooms.staff(ticket.branch_id), rooms.ticket(ticket.id))
    return view


def _emit_called(
    uow: UnitOfWork, session: Session, ticket: Ticket, counter: Counter, *, recall: bool, called_at: Any = None
) -> None:
    service = queries.services_by_id(session, ticket.branch_id).get(ticket.service_id)
    when = called_at or ticket.called_at
    uow.emit(
        "ticket_called",
        {
            "number": ticket.number,
            "counter": counter.number,
            "service": service.code if service else None,
            "recall": recall,
            "called_at": when.isoformat() if when else None,
        },
        rooms.displays(ticket.branch_id),
        rooms.staff(ticket.branch_id),
        rooms.ticket(ticket.id),
    )


def _emit_counter(uow: UnitOfWork, counter: Counter, **known: Any) -> dict[str, Any]:
    """Announce the counter as it now is (``current=`` its ticket, when the caller knows it)."""
    view = queries.counter_view_of(uow.session, counter, **known)
    uow.emit("counter_changed", view, rooms.staff(counter.branch_id))
    return view


def _emit_queue(uow: UnitOfWork, rt: Runtime, branch_id: int, now: Any, load: queries.BranchLoad | None = None) -> None:
    uow.changed_branches.add(branch_id)
    summary = queries.queue_summary(uow.session, rt.config_for(branch_id), branch_id, now, load=load)
    uow.emit(
        "queue_changed",
        {"services": summary},
        rooms.displays(branch_id),
        rooms.kiosks(branch_id),
        rooms.staff(branch_id),
        rooms.phones(branch_id),
    )
