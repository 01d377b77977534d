"""Commands on tickets that no counter makes: issue at a kiosk, rate from the phone, close the
previous days' leftovers. Each is one transaction (a :class:`~server.runtime.UnitOfWork`) that
applies a rule of :mod:`~server.queueing.machine`, records the change and says what happened
(:mod:`~server.queueing.announce` knows who hears it).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.actors import ANONYMOUS, SYSTEM, Actor
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models import Counter, Service, Ticket, TicketSequence
from server.queueing import announce, policy, reads
from server.queueing.catalog import services_by_code
from server.queueing.customer import rating_view
from server.queueing.figures import branch_load
from server.queueing.hours import closed_message, hours_now
from server.queueing.machine import TicketStatus, ticket_step
from server.queueing.numbering import business_day, format_number
from server.queueing.views import holder_links, ticket_view
from server.runtime import Runtime

TOKEN_BYTES = 24  # 192 bits from `secrets`; the phone page URL cannot be guessed


def issue_ticket(
    rt: Runtime,
    actor: Actor,
    branch_id: int,
    service_code: str,
    lang: str | None = None,
    idempotency_key: str | None = None,
    priority: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Issue a ticket from a kiosk, or by a member of staff (at the lobby desk). Returns
    ``(ticket, created)``. A ``priority`` ticket (elderly, disabled, pregnant: the kiosk asks the
    customer to confirm, staff may check) goes before the normal tickets of its service
    (server/queueing/policy.py); its ``people_ahead`` counts only who is ahead of it.

    The number comes from the per-service, per-day sequence, incremented in this same transaction:
    if anything fails the whole transaction rolls back, the number with it, so no gap appears. A
    repeated ``idempotency_key`` from the same kiosk returns the ticket it already produced. Outside
    the branch's hours (before opening, from the last-ticket time, on a closed day) it is 409
    ``branch_closed``, in the customer's language, naming the next opening; nothing is stored.
    """
    if not (actor.is_device("kiosk") or actor.is_staff):
        raise Forbidden("only a kiosk or staff issue tickets", code="kiosk_only")
    config = rt.config_for(branch_id)
    languages = config.branch.languages
    if lang is None:
        lang = languages[0]
    elif lang not in languages:
        raise Invalid(f"language {lang!r} is not offered here (offered: {', '.join(languages)})",
                      code="unknown_language")
    now = rt.clock.now()
    # The issues of one service share its ticket-number row: on PostgreSQL those of this process
    # queue in one lane and commit together (server/db.py), instead of each waiting in the
    # database for the one before to commit. (A code the config does not know gets no lane.)
    lane = ("ticket_number", branch_id, service_code) if config.service(service_code) is not None else None
    try:
        with rt.uow(lane=lane) as uow:
            session = uow.session
            if idempotency_key is not None:
                existing = _ticket_by_idempotency_key(session, actor, idempotency_key)
                if existing is not None:
                    _check_same_request(session, existing, service_code, lang, priority)
                    return reads.ticket_with_live_estimate(session, config, existing, now, for_holder=True), False
            service = services_by_code(session, branch_id).get(service_code)
            if service is None:
                raise Invalid(f"there is no service {service_code!r} here", code="unknown_service")
            hours = hours_now(config.hours, now)
            if not hours.issuing:
                raise Conflict(closed_message(hours)[lang], code="branch_closed")
            day = business_day(now, config.tz)
            # The reads first, the contended row last (issue 17): the day's sequence row of the
            # service is what every issue of that service waits for, so it is taken only once
            # everything else is read, and held for two inserts and the commit.
            load = branch_load(session, config, branch_id, now)
            sequence = _next_sequence(session, service.id, day)
            if uow.session.get_bind().dialect.name != "sqlite":
                # PostgreSQL, READ COMMITTED: an issue of the same service that committed after the
                # load was read held this sequence row until its commit, so a statement run now (a
                # fresh snapshot) sees its ticket: counting again keeps people_ahead exact. (SQLite's
                # write lock was taken at BEGIN IMMEDIATE, before the load was read: it is exact.)
                waiting = _waiting_for(session, branch_id, service.id)
                if waiting != load.waiting.get(service.id, 0):
                    load = load.with_waiting(service.id, waiting)
            ahead = _ahead_of_priority(session, branch_id, service.id) if priority else load.waiting.get(service.id, 0)
            values = {
                "branch_id": branch_id, "service_id": service.id, "original_service_id": service.id,
                "business_day": day, "sequence": sequence, "number": format_number(service.code, sequence),
                "status": ticket_step(None, "issue").value, "token": secrets.token_urlsafe(TOKEN_BYTES),
                "lang": lang, "people_ahead": ahead, "estimated_wait_s": load.estimate(service.id, ahead + 1),
                "raw_estimate_s": load.raw_estimate(service.id, ahead + 1),
                "fits_before_close": load.fits_before_close(service.id, ahead + 1, now, hours.closes_at),
                "issued_at": now, "waiting_since": now, "recall_count": 0, "device_id": actor.device_id,
                "issued_by_staff_id": actor.staff_id, "idempotency_key": idempotency_key, "priority": priority,
            }
            # One Core INSERT (the ORM's unit of work costs more than the statement on this hot
            # path); the row object below is only read, for the views and the event log.
            ticket = Ticket(**values, id=session.connection().execute(_insert_ticket(), values).scalar_one())
            uow.record(actor, now, ticket, "issue", None, ticket.status,
                       {"number": ticket.number, "service": service.code, "priority": priority})
            staff_view = ticket_view(ticket, service_code=service.code, counter_number=None, position=ahead + 1,
                                     estimated_wait_s=load.promise(service.id, ahead + 1))
            holder_view = {**staff_view, **holder_links(ticket, rt.config.server.public_url),
                           **reads.holder_details(session, ticket, service)}
            announce.ticket_issued(uow, staff_view, branch_id)
            announce.queue_changed(uow, branch_id, now, load=load.with_one_more(service.id))
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
            _check_same_request(session, existing, service_code, lang, priority)
            return reads.ticket_with_live_estimate(session, config, existing, now, for_holder=True), False


def _ticket_by_idempotency_key(session: Session, actor: Actor, key: str) -> Ticket | None:
    issuer = Ticket.issued_by_staff_id == actor.id if actor.is_staff else Ticket.device_id == actor.id
    return session.scalar(select(Ticket).where(issuer, Ticket.idempotency_key == key))


def _check_same_request(session: Session, ticket: Ticket, service_code: str, lang: str, priority: bool) -> None:
    """A repeated ``Idempotency-Key`` must come with the request that first used it: a retry.

    With another service, language or priority it is a different request that reused a key (a
    kiosk bug, or two screens sharing a key generator); handing back the first ticket would give
    the customer a ticket for the wrong service without a word. So it is 422
    ``idempotency_key_reused``, as Stripe answers. The stored ticket itself says what was asked
    (its original service: a transfer since does not make the retry different), so no hash of the
    body needs storing.
    """
    first_service = session.get(Service, ticket.original_service_id)
    asked = {"service": service_code, "lang": lang, "priority": priority}
    stored = {"service": first_service.code if first_service is not None else None, "lang": ticket.lang,
              "priority": bool(ticket.priority)}
    if asked != stored:
        differ = ", ".join(name for name in asked if asked[name] != stored[name])
        raise Invalid(f"this Idempotency-Key was used for ticket {ticket.number} with another {differ}; "
                      "use a new key for a new ticket", code="idempotency_key_reused")


def _ahead_of_priority(session: Session, branch_id: int, service_id: int) -> int:
    """How many waiting tickets of the service a new priority ticket queues behind: the front lane
    (returned no-shows, directed tickets) and the priority customers already waiting."""
    return int(session.scalar(select(func.count()).where(
        Ticket.branch_id == branch_id, Ticket.service_id == service_id, Ticket.status == TicketStatus.WAITING.value,
        reads.queue_lane() <= policy.PRIORITY)) or 0)


@cache
def _insert_ticket() -> Any:
    return insert(Ticket.__table__).returning(Ticket.id)  # type: ignore[arg-type]


def _waiting_for(session: Session, branch_id: int, service_id: int) -> int:
    """How many tickets wait for the service now (a fresh statement: in PostgreSQL's READ COMMITTED,
    it sees every transaction committed before it started)."""
    return int(session.connection().execute(_waiting_for_statement(),
                                            {"branch_id": branch_id, "service_id": service_id}).scalar_one())


@cache
def _waiting_for_statement() -> Any:
    return select(func.count()).where(Ticket.branch_id == bindparam("branch_id"),
                                      Ticket.service_id == bindparam("service_id"),
                                      Ticket.status == TicketStatus.WAITING.value)


def _next_sequence(session: Session, service_id: int, day: date) -> int:
    """Increment (or start at 1) the day's counter for a service, atomically, and return it."""
    statement = _next_sequence_statement(session.get_bind().dialect.name)
    return int(session.connection().execute(statement, {"service_id": service_id, "business_day": day,
                                                        "last_number": 1}).scalar_one())


@cache
def _next_sequence_statement(dialect: str) -> Any:
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert_(TicketSequence)
        .on_conflict_do_update(
            index_elements=[TicketSequence.service_id, TicketSequence.business_day],
            set_={"last_number": TicketSequence.last_number + 1},
        )
        .returning(TicketSequence.last_number)
    )


def get_ticket_by_token(rt: Runtime, token: str) -> dict[str, Any]:
    """The ticket a phone page follows, with its live position and estimate."""
    with rt.reading() as session:
        ticket = ticket_row_by_token(session, token)
        return reads.ticket_with_live_estimate(session, rt.config_for(ticket.branch_id), ticket, rt.clock.now(),
                                               for_holder=True)


def ticket_row_by_token(session: Session, token: str, *, for_update: bool = False) -> Ticket:
    """The ticket with this token, or :class:`NotFound` (a token of an impossible length is not looked up)."""
    query = select(Ticket).where(Ticket.token == token)
    ticket = session.scalar(query.with_for_update() if for_update else query) if 16 <= len(token) <= 64 else None
    if ticket is None:
        raise NotFound("no ticket has this code", code="unknown_ticket")
    return ticket


def rate_ticket(rt: Runtime, token: str, stars: int, comment: str | None) -> dict[str, Any]:
    """The customer's rating of a finished service (1-5 stars, an optional comment), once."""
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        ticket = ticket_row_by_token(session, token, for_update=True)
        if ticket.status != TicketStatus.DONE.value:
            raise Conflict("a ticket can be rated once its service is finished", code="not_finished")
        if ticket.rating is not None:
            raise Conflict("this ticket has already been rated", code="already_rated")
        ticket.rating = stars
        ticket.rating_comment = (comment or "").strip() or None
        ticket.rated_at = now
        uow.record(ANONYMOUS, now, ticket, "rate", ticket.status, ticket_step(TicketStatus.DONE, "rate").value,
                   {"stars": stars, "commented": ticket.rating_comment is not None})
        session.flush()
        view = reads.ticket_with_live_estimate(session, rt.config_for(ticket.branch_id), ticket, now, for_holder=True)
        announce.rating_received(uow, rating_view(session, ticket), ticket.branch_id)
        uow.commit()
        return view


def cancel_by_holder(rt: Runtime, token: str) -> dict[str, Any]:
    """The holder leaves the queue from the phone page: a waiting or held ticket is ``cancelled``
    with reason ``customer``, and everyone behind moves up at once (their phones and the screens
    hear the queue change). 409 ``not_waiting`` once it has been called or is finished."""
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        ticket = ticket_row_by_token(session, token, for_update=True)
        if ticket.status not in reads.IN_LINE:
            raise Conflict(f"ticket {ticket.number} can no longer leave the queue: it is "
                           f"{ticket.status.replace('_', ' ')}", code="not_waiting")
        before = ticket.status
        ticket.status = ticket_step(TicketStatus(before), "cancel").value
        ticket.cancel_reason = "customer"
        ticket.finished_at = now
        uow.record(ANONYMOUS, now, ticket, "cancel", before, ticket.status, {"reason": "customer"})
        session.flush()
        config = rt.config_for(ticket.branch_id)
        announce.ticket_changed(uow, ticket, now)
        announce.queue_changed(uow, ticket.branch_id, now)
        view = reads.ticket_with_live_estimate(session, config, ticket, now, for_holder=True)
        uow.commit()
        return view


def return_ticket(rt: Runtime, actor: Actor, branch_id: int, ticket_id: int) -> dict[str, Any]:
    """A no-show who comes back (a teller or the manager says so): the ticket waits again, at the
    front of its service (first returned, first called), the same day while the branch serves."""
    if not actor.is_staff:
        raise Forbidden("only staff bring a customer back", code="staff_only")
    config = rt.config_for(branch_id)
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        ticket = session.get(Ticket, ticket_id, with_for_update=True)
        if ticket is None or ticket.branch_id != branch_id:
            raise NotFound(f"there is no ticket {ticket_id} here", code="unknown_ticket")
        if ticket.status != TicketStatus.NO_SHOW.value:
            raise Conflict(f"ticket {ticket.number} is not a no-show (it is {ticket.status.replace('_', ' ')})",
                           code="not_no_show")
        hours = hours_now(config.hours, now)
        if not hours.serving or ticket.business_day != business_day(now, config.tz):
            raise Conflict(f"ticket {ticket.number} can come back only the same day, while the branch serves",
                           code="branch_closed")
        before = ticket.status
        ticket.status = ticket_step(TicketStatus(before), "return").value
        wait_again(ticket, now)
        ticket.returned_at = now  # at the front of its service
        ticket.finished_at = None
        uow.record(actor, now, ticket, "return", before, ticket.status, {"number": ticket.number})
        # The no-show can no longer be undone at the counter that recorded it: the customer is back.
        for counter in session.scalars(select(Counter).where(Counter.undo_ticket_id == ticket.id)):
            counter.undo_ticket_id, counter.undo_action, counter.undo_at = None, None, None
            session.flush()
            announce.counter_changed(uow, counter)
        session.flush()
        view = announce.ticket_changed(uow, ticket, now)
        announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return view


def wait_again(ticket: Ticket, now: datetime) -> None:
    """The ticket waits in a queue again (a transfer, a no-show's return): its wait in this queue
    counts from now, no counter holds it, and no call, service or lane of its last visit stands."""
    ticket.waiting_since = now
    ticket.counter_id = None
    ticket.called_at = None
    ticket.last_called_at = None
    ticket.served_at = None
    ticket.served_by_staff_id = None
    ticket.returned_at = None
    ticket.directed_counter_id = None


def close_previous_days(rt: Runtime, branch_id: int) -> int:
    """The day rollover: once the branch has opened on a new day, tickets still waiting or held from an
    earlier business day (the server was down at closing, say) are closed as ``cancelled`` with
    reason ``day_end`` (one event each). Numbering already follows the calendar day in the branch's
    time zone, so it has restarted. Returns how many were closed; running it again closes nothing."""
    config = rt.config_for(branch_id)
    now = rt.clock.now()
    if not hours_now(config.hours, now).serving:
        return 0
    today = business_day(now, config.tz)
    return _cancel_waiting(rt, branch_id, now, "day_end", reads.IN_LINE, Ticket.business_day < today)


def close_at_closing(rt: Runtime, branch_id: int) -> int:
    """Closing time: tickets still waiting are cancelled with reason ``branch_closed``, and their
    phone pages hear it (nobody will call them now). Returns how many; again, nothing more. A held
    ticket stays: its customer was being served and is fetching something, and the teller may call
    them back after closing, as they finish the customer at the counter (the day's rollover closes
    what is left)."""
    now = rt.clock.now()
    if hours_now(rt.config_for(branch_id).hours, now).state != "closed":
        return 0
    return _cancel_waiting(rt, branch_id, now, "branch_closed", (TicketStatus.WAITING.value,))


def warn_the_late(rt: Runtime, branch_id: int) -> int:
    """While the branch serves: a waiting ticket told at issue it would be called before closing,
    whose turn the hall as it is now no longer expects before closing (the same safe-side test as at
    issue: a counter closed, a lunch began, another service's customers went first), is marked
    ``late_warned_at`` once; from then on it reads ``fits_before_close: false`` and its phone page
    hears it — so that nobody is sent home at closing who was never told. Returns how many."""
    config = rt.config_for(branch_id)
    now = rt.clock.now()
    hours = hours_now(config.hours, now)
    if not hours.serving or hours.closes_at is None:
        return 0
    waiting = (Ticket.branch_id == branch_id, Ticket.status == TicketStatus.WAITING.value)
    with rt.reading() as session:
        rows = session.execute(
            select(Ticket.id, Ticket.service_id, Ticket.fits_before_close, Ticket.late_warned_at)
            .where(*waiting).order_by(Ticket.service_id, reads.queue_lane(), reads.queue_time(), Ticket.id)
        ).all()
        if not any(row.fits_before_close is not False and row.late_warned_at is None for row in rows):
            return 0
        load = branch_load(session, config, branch_id, now)
        late: list[int] = []
        position: dict[int, int] = {}
        for row in rows:
            position[row.service_id] = position.get(row.service_id, 0) + 1
            if (row.fits_before_close is not False and row.late_warned_at is None
                    and not load.fits_before_close(row.service_id, position[row.service_id], now, hours.closes_at)):
                late.append(row.id)
    if not late:
        return 0
    with rt.uow() as uow:
        session = uow.session
        tickets = list(session.scalars(select(Ticket).where(
            *waiting, Ticket.id.in_(late), Ticket.late_warned_at.is_(None)).with_for_update()))
        for ticket in tickets:
            ticket.late_warned_at = now
            uow.record(SYSTEM, now, ticket, "warn_late", ticket.status, ticket.status,
                       {"closes_at": hours.closes_at.isoformat()})
        session.flush()
        for ticket in tickets:
            announce.ticket_changed(uow, ticket, now)
        uow.commit()
        return len(tickets)


def close_the_days(rt: Runtime) -> int:
    """For every branch: warn who will likely not be reached before closing, cancel what is still
    waiting at closing, and any earlier day's leftovers (the sweeping process runs this every
    minute; a manual clock, whenever it moves). Returns how many tickets were cancelled."""
    cancelled = 0
    for branch_id in rt.branch_ids.values():
        warn_the_late(rt, branch_id)
        cancelled += close_at_closing(rt, branch_id) + close_previous_days(rt, branch_id)
    return cancelled


def _cancel_waiting(rt: Runtime, branch_id: int, now: datetime, reason: str, statuses: tuple[str, ...],
                    *where: Any) -> int:
    """Cancel the branch's tickets in ``statuses`` (and matching ``where``) with ``reason``, one event each."""
    waiting = select(Ticket).where(Ticket.branch_id == branch_id, Ticket.status.in_(statuses), *where)
    with rt.reading() as session:  # the usual answer is "nothing to do": find that out without locking
        if session.scalar(waiting.with_only_columns(Ticket.id).limit(1)) is None:
            return 0
    with rt.uow() as uow:
        session = uow.session
        tickets = list(session.scalars(waiting.with_for_update()))
        for ticket in tickets:
            before = ticket.status
            ticket.status = ticket_step(TicketStatus(before), "cancel").value
            ticket.cancel_reason = reason
            ticket.finished_at = now
            uow.record(SYSTEM, now, ticket, "cancel", before, ticket.status,
                       {"reason": reason, "business_day": ticket.business_day.isoformat()})
        session.flush()
        for ticket in tickets:
            announce.ticket_changed(uow, ticket, now)
        if tickets:
            announce.queue_changed(uow, branch_id, now)
        uow.commit()
        return len(tickets)
