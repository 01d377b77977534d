"""Building a :class:`BranchSnapshot` from the database: a handful of column queries, no ORM objects,
so a sweep of a large hall stays cheap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, bindparam, func, literal_column, select
from sqlalchemy.orm import Session

from server.alerts.snapshot import (
    ActiveTicket,
    BranchSnapshot,
    CounterChange,
    CounterInfo,
    LowRating,
    ServiceInfo,
    WaitingTicket,
)
from server.config import Config
from server.db import epoch_seconds
from server.models import Counter, Event, Staff, Ticket
from server.queueing.catalog import branch_row, counter_services, services_by_code
from server.queueing.estimate import mean_service_seconds
from server.queueing.figures import finished_today, normal_service_times
from server.queueing.hours import hours_now
from server.queueing.numbering import day_start_utc
from server.queueing.reads import ACTIVE_TICKET


@cache
def _statements() -> SimpleNamespace:
    """The loader's queries, built once (on first use) with bound parameters: constructing them
    anew on every sweep costs more than running them on a small hall."""
    branch = bindparam("branch_id", type_=Integer())
    return SimpleNamespace(
        active=select(Ticket.counter_id, Ticket.id, Ticket.number, Ticket.service_id, Ticket.status,
                      epoch_seconds(Ticket.called_at), epoch_seconds(Ticket.served_at))
        .where(Ticket.branch_id == branch, Ticket.status.in_(ACTIVE_TICKET)),
        counters=select(Counter.id, Counter.number, Counter.state, epoch_seconds(Counter.state_since),
                        Counter.staff_id, Counter.pause_reason, epoch_seconds(Counter.help_requested_at),
                        Staff.display_name, Counter.help_reason, epoch_seconds(Counter.help_responded_at))
        .outerjoin(Staff, Staff.id == Counter.staff_id)
        .where(Counter.branch_id == branch, Counter.active.is_(True))
        .order_by(Counter.number),
        waiting=select(Ticket.id, Ticket.number, Ticket.service_id, epoch_seconds(Ticket.issued_at),
                       epoch_seconds(Ticket.waiting_since), Ticket.people_ahead, Ticket.estimated_wait_s,
                       Ticket.priority, epoch_seconds(Ticket.returned_at), Ticket.directed_counter_id)
        .where(Ticket.branch_id == branch, Ticket.status == "waiting"),
        low_ratings=select(Ticket.id, Ticket.number, Ticket.rating, Ticket.rating_comment,
                           epoch_seconds(Ticket.rated_at), Ticket.counter_id, Staff.display_name)
        .outerjoin(Staff, Staff.id == Ticket.served_by_staff_id)
        .where(Ticket.branch_id == branch, Ticket.rated_at >= bindparam("rated_since", type_=Ticket.rated_at.type),
               Ticket.rating <= bindparam("max_stars", type_=Integer()))
        .order_by(Ticket.rated_at, Ticket.id),
        history=select(epoch_seconds(Event.at), Event.entity_id, Event.from_state, Event.to_state)
        .where(Event.branch_id == branch, Event.entity == "counter", Event.at >= bindparam("day_start_events",
                                                                                          type_=Event.at.type),
               Event.from_state != Event.to_state)
        .order_by(Event.id),
    )


def history_loader(session: Session, branch_id: int, day_start: datetime) -> Callable[[], tuple[CounterChange, ...]]:
    """Reads the day's counter changes, in ``session``, when called."""

    def history() -> tuple[CounterChange, ...]:
        params = {"branch_id": branch_id, "day_start_events": day_start}
        return tuple(
            CounterChange(at, counter_id, from_state or "closed", to_state)
            for at, counter_id, from_state, to_state
            in session.connection().execute(_statements().history, params).all()
        )

    return history


@dataclass(frozen=True)
class StateMark:
    """Where a branch's event log stood when a snapshot was read: its newest event id, and how many
    events lie above a floor a little below it. Every change to tickets and counters writes an
    event, so an unchanged mark means an unchanged branch. (The count catches a PostgreSQL
    transaction that took a lower id but committed after the snapshot was read.)"""

    floor: int
    count: int
    newest: int


MARK_FLOOR_SPAN = 1000


@cache
def _mark_statements() -> tuple[Any, Any, Any, Any]:
    branch = bindparam("branch_id", type_=Integer())
    return (select(func.max(Event.id)).where(Event.branch_id == branch),
            select(func.count(Event.id), func.max(Event.id)).where(Event.branch_id == branch,
                                                                   Event.id > bindparam("floor")),
            select(func.max(Event.id)),
            # Grouped by ``branch_id + 0``, not the column: SQLite would otherwise read the whole
            # (branch_id, id) index in branch order, the log's whole history at every sweep, rather
            # than the few rows above the floor by the primary key.
            select(grouped := (Event.branch_id + literal_column("0")).label("branch_id"), func.count(Event.id),
                   func.max(Event.id))
            .where(Event.id > bindparam("floor")).group_by(grouped))


def newest_event_id(session: Session) -> int:
    """The newest event id of the whole log (0 before the first)."""
    return session.connection().execute(_mark_statements()[2]).scalar() or 0


def state_marks(session: Session, floor: int) -> dict[int, StateMark]:
    """Every branch's mark above one floor, in one query (a branch with no event above it is absent:
    its mark is ``StateMark(floor, 0, floor)``)."""
    rows = session.connection().execute(_mark_statements()[3], {"floor": floor}).all()
    return {branch_id: StateMark(floor, int(count), int(newest)) for branch_id, count, newest in rows}


def state_mark(session: Session, branch_id: int, floor: int | None = None) -> StateMark:
    newest_q, above_q = _mark_statements()[:2]
    db = session.connection()
    if floor is None:
        newest = db.execute(newest_q, {"branch_id": branch_id}).scalar() or 0
        floor = max(0, newest - MARK_FLOOR_SPAN)
    count, newest = db.execute(above_q, {"branch_id": branch_id, "floor": floor}).one()
    return StateMark(floor, int(count), int(newest or floor))


def load_snapshot(session: Session, config: Config, branch_id: int, now: datetime) -> BranchSnapshot:
    """The branch as it is at ``now`` (read in the caller's transaction).

    Rows go through Core, not the ORM, and every time comes back as POSIX seconds computed by the
    database: on a hall of thousands of waiting tickets, ORM bookkeeping and datetime parsing would
    cost more than the rules themselves.
    """
    q = _statements()
    db = session.connection()
    day_start = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    params = {"branch_id": branch_id}
    branch = branch_row(session, branch_id)
    assert branch is not None, f"no branch {branch_id}"
    lists = counter_services(session, branch_id)  # services and lists change only with the config

    active = {row[0]: ActiveTicket._make(row[1:]) for row in db.execute(q.active, params).all()}

    counters = tuple(
        CounterInfo(
            id=counter_id,
            number=number,
            state=state,
            state_since=state_since,
            services=tuple(lists.get(counter_id, ())),
            staff_id=staff_id,
            staff_name=staff_name,
            pause_reason=pause_reason,
            help_requested_at=help_requested_at,
            help_reason=help_reason,
            help_responded_at=help_responded_at,
            ticket=active.get(counter_id),
        )
        for (counter_id, number, state, state_since, staff_id, pause_reason, help_requested_at, staff_name,
             help_reason, help_responded_at)
        in db.execute(q.counters, params).all()
    )

    waiting = tuple(map(WaitingTicket._make, db.execute(q.waiting, params).all()))
    low_ratings = tuple(map(LowRating._make, db.execute(q.low_ratings, {
        **params, "max_stars": config.alerts.low_rating_max_stars,
        "rated_since": max(day_start, now - timedelta(seconds=config.alerts.low_rating_show_s))}).all()))

    # The moving average of counter time (for estimates) and the median service time (the
    # "normal" an overrun is measured against): worked out again only after a finish.
    active_services = services_by_code(session, branch_id).values()
    finished = finished_today(session, branch_id, day_start, config.queue.service_time_window)
    normals = normal_service_times(config, finished, active_services)
    services = {
        service.id: ServiceInfo(
            id=service.id,
            code=service.code,
            name=service.name,
            expected_s=service.expected_minutes * 60,
            target_wait_s=service.target_wait_s or config.alerts.service_level_default_target_s,
            mean_cycle_s=mean_service_seconds(finished.cycles.get(service.id, ()), service.expected_minutes * 60,
                                              config.queue.service_time_min_samples),
            normal_service_s=normals[service.id],
        )
        for service in active_services
    }

    history = history_loader(session, branch_id, day_start)

    return BranchSnapshot(
        branch_id=branch_id,
        branch_code=branch["code"],
        now=now.timestamp(),
        day_start=day_start.timestamp(),
        counters=counters,
        waiting=waiting,
        services=services,
        load_history=history,
        languages=branch["languages"],
        serving=hours_now(config.hours, now).serving,
        low_ratings=low_ratings,
    )
