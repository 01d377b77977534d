"""Building a :class:`BranchSnapshot` from the database: a handful of column queries, no ORM objects,
so a sweep of a large hall stays cheap."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.alerts.snapshot import (
    ActiveTicket,
    BranchSnapshot,
    CounterChange,
    CounterInfo,
    ServiceInfo,
    WaitingTicket,
)
from server.config import Config
from server.db import epoch_seconds
from server.models import Branch, Counter, CounterService, Event, Service, Staff, Ticket
from server.queueing.estimate import mean_service_seconds
from server.queueing.queries import ACTIVE_TICKET, day_start_utc


MIN_NORMAL_SERVICE_S = 30.0


def load_snapshot(session: Session, config: Config, branch_id: int, now: datetime) -> BranchSnapshot:
    """The branch as it is at ``now`` (read in the caller's transaction).

    Rows go through Core, not the ORM: on a hall of thousands of waiting tickets the ORM's row
    bookkeeping would cost more than the rules themselves.
    """
    db = session.connection()
    branch = session.get(Branch, branch_id)
    assert branch is not None, f"no branch {branch_id}"
    day_start = day_start_utc(now.astimezone(config.tz).date(), config.tz)

    def ts(value: datetime | None) -> float | None:
        return value.timestamp() if value is not None else None

    lists: dict[int, list[int]] = defaultdict(list)
    for counter_id, service_id in db.execute(
        select(CounterService.counter_id, CounterService.service_id)
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(Counter.branch_id == branch_id)
        .order_by(CounterService.counter_id, CounterService.rank)
    ):
        lists[counter_id].append(service_id)

    active: dict[int, ActiveTicket] = {}
    for row in db.execute(
        select(Ticket.id, Ticket.number, Ticket.service_id, Ticket.status, Ticket.called_at, Ticket.served_at,
               Ticket.counter_id)
        .where(Ticket.branch_id == branch_id, Ticket.status.in_(ACTIVE_TICKET))
    ):
        active[row.counter_id] = ActiveTicket(row.id, row.number, row.service_id, row.status, ts(row.called_at),
                                              ts(row.served_at))

    counters = tuple(
        CounterInfo(
            id=row.id,
            number=row.number,
            state=row.state,
            state_since=row.state_since.timestamp(),
            services=tuple(lists.get(row.id, ())),
            staff_id=row.staff_id,
            staff_name=row.display_name,
            pause_reason=row.pause_reason,
            help_requested_at=ts(row.help_requested_at),
            ticket=active.get(row.id),
        )
        for row in db.execute(
            select(Counter.id, Counter.number, Counter.state, Counter.state_since, Counter.staff_id,
                   Counter.pause_reason, Counter.help_requested_at, Staff.display_name)
            .outerjoin(Staff, Staff.id == Counter.staff_id)
            .where(Counter.branch_id == branch_id, Counter.active.is_(True))
            .order_by(Counter.number)
        )
    )

    rows = db.execute(
        select(Ticket.id, Ticket.number, Ticket.service_id, epoch_seconds(Ticket.issued_at),
               epoch_seconds(Ticket.waiting_since), Ticket.people_ahead, Ticket.estimated_wait_s)
        .where(Ticket.branch_id == branch_id, Ticket.status == "waiting")
    ).all()
    waiting = tuple(map(WaitingTicket._make, rows))

    # The day's finished tickets, newest first: the moving average of counter time (for estimates)
    # and the median service time (the "normal" an overrun is measured against).
    cycles: dict[int, list[float]] = defaultdict(list)
    service_times: dict[int, list[float]] = defaultdict(list)
    # (No status in the WHERE: the (branch_id, finished_at) index then serves the range scan.)
    finished = epoch_seconds(Ticket.finished_at)
    for service_id, status, cycle, service_time in db.execute(
        select(Ticket.service_id, Ticket.status, finished - epoch_seconds(Ticket.called_at),
               finished - epoch_seconds(Ticket.served_at))
        .where(Ticket.branch_id == branch_id, Ticket.finished_at >= day_start)
        .order_by(Ticket.finished_at.desc())
    ).all():
        if status != "done":
            continue
        if cycle is not None and len(cycles[service_id]) < config.queue.service_time_window:
            cycles[service_id].append(cycle)
        if service_time is not None:
            service_times[service_id].append(service_time)

    services: dict[int, ServiceInfo] = {}
    for row in db.execute(
        select(Service.id, Service.code, Service.name, Service.expected_minutes, Service.target_wait_s)
        .where(Service.branch_id == branch_id, Service.active.is_(True))
        .order_by(Service.position)
    ):
        expected = row.expected_minutes * 60
        own = service_times.get(row.id, [])
        normal = statistics.median(own) if len(own) >= config.alerts.service_overrun_min_samples else expected
        # A day of very short services must not make every ordinary one an "overrun".
        normal = max(normal, MIN_NORMAL_SERVICE_S)
        services[row.id] = ServiceInfo(
            id=row.id,
            code=row.code,
            name=row.name,
            expected_s=expected,
            target_wait_s=row.target_wait_s or config.alerts.service_level_default_target_s,
            mean_cycle_s=mean_service_seconds(cycles.get(row.id, []), expected, config.queue.service_time_min_samples),
            normal_service_s=normal,
        )

    history = tuple(
        CounterChange(row.at.timestamp(), row.entity_id, row.from_state or "closed", row.to_state)
        for row in db.execute(
            select(Event.at, Event.entity_id, Event.from_state, Event.to_state)
            .where(Event.branch_id == branch_id, Event.entity == "counter", Event.at >= day_start,
                   Event.from_state != Event.to_state)
            .order_by(Event.id)
        )
    )

    return BranchSnapshot(
        branch_id=branch_id,
        branch_code=branch.code,
        now=now.timestamp(),
        day_start=day_start.timestamp(),
        counters=counters,
        waiting=waiting,
        services=services,
        counter_history=history,
        languages=tuple(branch.languages),
    )
