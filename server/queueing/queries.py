"""Reads shared by the service functions and the API: services, counters, positions, estimates.

Each function takes an open session and returns plain data or rows; none of them commits.
"""

from __future__ import annotations

import statistics
import threading
import weakref
from functools import cache
from types import SimpleNamespace
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, event, func, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from server.config import Config
from server.db import READ_ONLY, epoch_seconds
from server.models import Branch, Counter, CounterService, Event, Service, Staff, Ticket
from server.queueing.estimate import ServiceLoad, estimate_wait_s, mean_service_seconds, service_loads
from server.queueing.machine import CounterState, TicketStatus
from server.queueing.views import counter_view, service_view, ticket_view

ACTIVE_TICKET = (TicketStatus.CALLED.value, TicketStatus.SERVING.value)


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the branch's zone, as UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


@dataclass(frozen=True)
class ServiceRow:
    """A service as the config sync left it (the columns of :class:`Service`, read-only)."""

    id: int
    branch_id: int
    code: str
    name: dict[str, str]
    kind: str
    expected_minutes: float
    documents: list[dict[str, str]]
    notes: dict[str, str] | None
    target_wait_s: int | None
    position: int
    active: bool


# Services and counter lists change only when the config is synced (server/branches.py, at start-up),
# never by a queueing change, and every change's views ask for them: they are read once per database
# and kept for the life of the process. A process syncs its own config before serving, so what it keeps
# is what its config says; sync_branch calls forget_config_rows.
_CONFIG_ROWS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_CONFIG_LOCK = threading.Lock()


def forget_config_rows(session: Session) -> None:
    """The branches' services or counters were changed in this database: read them afresh."""
    with _CONFIG_LOCK:
        _CONFIG_ROWS.pop(session.get_bind(), None)


def _config_rows(session: Session, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
    bind = session.get_bind()
    with _CONFIG_LOCK:
        cached = _CONFIG_ROWS.get(bind, {}).get(key)
    if cached is None:
        cached = read()
        with _CONFIG_LOCK:
            _CONFIG_ROWS.setdefault(bind, {})[key] = cached
    return cached


def _service_rows(session: Session, branch_id: int) -> dict[int, ServiceRow]:
    """Every service of the branch (active or not) by id, in display order."""
    def read() -> dict[int, ServiceRow]:
        columns = [c.key for c in Service.__table__.columns]
        rows = session.connection().execute(
            select(*Service.__table__.columns).where(Service.branch_id == branch_id).order_by(Service.position)
        ).all()
        return {row.id: ServiceRow(**{c: getattr(row, c) for c in columns}) for row in rows}

    return _config_rows(session, ("services", branch_id), read)


def services_by_code(session: Session, branch_id: int) -> dict[str, ServiceRow]:
    """The branch's active services, in display order."""
    return {s.code: s for s in _service_rows(session, branch_id).values() if s.active}


def services_by_id(session: Session, branch_id: int) -> dict[int, ServiceRow]:
    """Every service of the branch, active or not."""
    return dict(_service_rows(session, branch_id))


def service_row(session: Session, branch_id: int, service_id: int) -> ServiceRow:
    return _service_rows(session, branch_id)[service_id]


@cache
def _load_statements() -> SimpleNamespace:
    """The branch-load reads, built once with bound parameters: they run on every change, and
    building a statement costs more than SQLite takes to run it."""
    branch = bindparam("branch_id")
    since = bindparam("since", type_=Ticket.finished_at.type)
    finished = epoch_seconds(Ticket.finished_at)
    today = (Ticket.branch_id == branch, Ticket.finished_at >= since)
    return SimpleNamespace(
        # The (branch_id, finished_at) index serves both: no status in the WHERE.
        finished_mark=select(func.count(), func.max(Ticket.id)).where(*today),
        finished=select(Ticket.id, Ticket.service_id, Ticket.status, finished - epoch_seconds(Ticket.called_at),
                        finished - epoch_seconds(Ticket.served_at))
        .where(*today).order_by(Ticket.finished_at.desc(), Ticket.id.desc()),
        waiting=select(Ticket.service_id, func.count())
        .where(Ticket.branch_id == branch, Ticket.status == TicketStatus.WAITING.value)
        .group_by(Ticket.service_id),
        open_counters=select(Counter.id, Counter.state)
        .where(Counter.branch_id == branch, Counter.state != CounterState.CLOSED.value),
    )


def waiting_counts(session: Session, branch_id: int) -> dict[int, int]:
    """Waiting tickets per service id (read through the connection: the caller flushes first)."""
    rows = session.connection().execute(_load_statements().waiting, {"branch_id": branch_id})
    return {service_id: count for service_id, count in rows}


def counter_services(session: Session, branch_id: int) -> dict[int, list[int]]:
    """Service ids per counter id, in the counter's call order."""

    def read() -> dict[int, list[int]]:
        rows = session.execute(
            select(CounterService.counter_id, CounterService.service_id)
            .join(Counter, Counter.id == CounterService.counter_id)
            .where(Counter.branch_id == branch_id)
            .order_by(CounterService.counter_id, CounterService.rank)
        )
        out: dict[int, list[int]] = defaultdict(list)
        for counter_id, service_id in rows:
            out[counter_id].append(service_id)
        return out

    cached = _config_rows(session, ("counter_services", branch_id), read)
    out: dict[int, list[int]] = defaultdict(list)
    out.update({counter_id: list(ids) for counter_id, ids in cached.items()})
    return out


@dataclass
class BranchLoad:
    """Everything the wait estimate needs about a branch at one moment."""

    waiting: dict[int, int]
    loads: dict[int, ServiceLoad]
    # What the loads were computed from: (state, service ids) of the open counters, mean counter time per service.
    counters: tuple[tuple[str, tuple[int, ...]], ...] = ()
    means: dict[int, float] | None = None

    def estimate(self, service_id: int, position: int) -> int:
        return estimate_wait_s(position, self.loads[service_id])

    def estimate_new(self, service_id: int) -> int:
        """The wait a ticket issued now for this service would be promised."""
        return self.estimate(service_id, self.waiting.get(service_id, 0) + 1)

    def with_one_more(self, service_id: int) -> BranchLoad:
        """The same hall a moment later, with one more customer waiting for ``service_id`` (a ticket
        just issued): nothing else an estimate depends on has changed."""
        waiting = {**self.waiting, service_id: self.waiting.get(service_id, 0) + 1}
        return BranchLoad(waiting=waiting, loads=service_loads(self.counters, waiting, self.means or {}),
                          counters=self.counters, means=self.means)


_LOAD_CACHE = "callwise_branch_load"


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_loads(session: Session, *_: Any) -> None:
    session.info.pop(_LOAD_CACHE, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_loads_on_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info.pop(_LOAD_CACHE, None)


@dataclass(frozen=True)
class FinishedToday:
    """What a branch's finished tickets of the day say about its services."""

    # Counter time (call to finish) of each service's latest done tickets, newest first, at most
    # ``queue.service_time_window`` of them: the moving average the wait estimate uses.
    cycles: dict[int, tuple[float, ...]]
    # Median start-to-finish time of each service's done tickets, and how many there were: the
    # normal time a service_overrun is measured against.
    medians: dict[int, tuple[float, int]]


# A finished ticket never changes again, so a branch's set of the day's committed finished tickets
# only grows: its size and newest id say whether what was computed from it still holds. Most changes
# (an issue, a call, a pause) finish nobody, and every change and every sweep that reads the hall
# needs these figures: they are computed about once per finish, per process (kept per connection
# pool, which a database's read and write engines share), not from the whole day each time. Only a
# read-only transaction keeps what it computed: a write transaction sees its own uncommitted finish,
# which a rollback could take back.
_FINISHED: weakref.WeakKeyDictionary[Any, dict[int, tuple[tuple[Any, ...], FinishedToday]]] = (
    weakref.WeakKeyDictionary())


def finished_today(session: Session, branch_id: int, since: datetime, window: int) -> FinishedToday:
    """The branch's :class:`FinishedToday` since ``since`` (read through the connection: the
    caller flushes first)."""
    q = _load_statements()
    db = session.connection()
    params = {"branch_id": branch_id, "since": since}
    count, newest = db.execute(q.finished_mark, params).one()
    pool = db.engine.pool
    with _CONFIG_LOCK:
        kept = _FINISHED.get(pool, {}).get(branch_id)
    if kept is not None and kept[0] == (since, window, count, newest):
        return kept[1]
    rows = db.execute(q.finished, params).all()
    # The key of what is computed: from the rows themselves (in PostgreSQL each statement of a
    # transaction may see a later commit than the last).
    key = (since, window, len(rows), max((row.id for row in rows), default=None))
    cycles: dict[int, list[float]] = defaultdict(list)
    service_times: dict[int, list[float]] = defaultdict(list)
    for _id, service_id, status, cycle, service_time in rows:
        if status != TicketStatus.DONE.value:
            continue
        if cycle is not None and len(cycles[service_id]) < window:
            cycles[service_id].append(cycle)
        if service_time is not None:
            service_times[service_id].append(service_time)
    figures = FinishedToday(
        cycles={service_id: tuple(values) for service_id, values in cycles.items()},
        medians={service_id: (statistics.median(values), len(values)) for service_id, values in service_times.items()},
    )
    if db.get_execution_options().get(READ_ONLY):
        with _CONFIG_LOCK:
            _FINISHED.setdefault(pool, {})[branch_id] = (key, figures)
    return figures


def branch_load(session: Session, config: Config, branch_id: int, now: datetime) -> BranchLoad:
    """Service loads for every active service of the branch.

    The load is kept for the rest of the transaction until something is written: one change's
    events (the counter's view, the queue summary) all need it at the same moment."""
    session.flush()  # the reads below go through the connection: pending changes must be in the database
    cache: dict[tuple[int, datetime], BranchLoad] = session.info.setdefault(_LOAD_CACHE, {})
    if (branch_id, now) in cache:
        return cache[(branch_id, now)]
    waiting = waiting_counts(session, branch_id)
    counters = session.connection().execute(_load_statements().open_counters, {"branch_id": branch_id}).all()
    lists = counter_services(session, branch_id) if counters else {}
    since = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    cycles = finished_today(session, branch_id, since, config.queue.service_time_window).cycles
    means = {
        service_id: mean_service_seconds(cycles.get(service_id, ()), service.expected_minutes * 60,
                                         config.queue.service_time_min_samples)
        for service_id, service in services_by_id(session, branch_id).items()
    }
    open_counters = tuple((state, tuple(lists.get(counter_id, ()))) for counter_id, state in counters)
    load = BranchLoad(waiting=waiting, loads=service_loads(open_counters, waiting, means), counters=open_counters,
                      means=means)
    cache[(branch_id, now)] = load
    return load


def queue_summary(session: Session, config: Config, branch_id: int, now: datetime,
                  load: BranchLoad | None = None) -> list[dict[str, Any]]:
    """``[{"code", "waiting", "estimated_wait_s"}]`` for every active service: the queue_changed payload
    (from ``load`` when the caller already knows the branch's load)."""
    load = load or branch_load(session, config, branch_id, now)
    return [
        {"code": service.code, "waiting": load.waiting.get(service.id, 0), "estimated_wait_s": load.estimate_new(service.id)}
        for service in services_by_code(session, branch_id).values()
    ]


def services_with_estimates(session: Session, config: Config, branch_id: int, now: datetime) -> list[dict[str, Any]]:
    """Every active service with its waiting count, the wait a new ticket would get, and its normal
    service time today (what the service_overrun alert measures against)."""
    load = branch_load(session, config, branch_id, now)
    since = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    services = services_by_code(session, branch_id).values()
    normal = normal_service_seconds(config, finished_today(session, branch_id, since, config.queue.service_time_window),
                                    [(s.id, s.expected_minutes * 60) for s in services])
    views = []
    for service in services:
        view = service_view(service, load.waiting.get(service.id, 0), load.estimate_new(service.id))
        view["normal_service_s"] = round(normal[service.id])
        views.append(view)
    return views


MIN_NORMAL_SERVICE_S = 30.0


def normal_service_seconds(config: Config, finished: FinishedToday,
                           services: Iterable[tuple[int, float]]) -> dict[int, float]:
    """The normal start-to-finish time of each of ``services`` ((id, expected seconds) pairs) today:
    the median of the day's finished tickets once there are ``service_overrun_min_samples`` of them,
    else the configured expected minutes; never below 30 s (a day of instant test services must not
    make everything an overrun)."""
    out = {}
    for service_id, expected_s in services:
        median, samples = finished.medians.get(service_id, (0.0, 0))
        normal = median if samples >= config.alerts.service_overrun_min_samples else expected_s
        out[service_id] = max(normal, MIN_NORMAL_SERVICE_S)
    return out


def position_of(session: Session, ticket: Ticket) -> int:
    """1 = the next of its service to be called; 0 once it is no longer waiting."""
    if ticket.status != TicketStatus.WAITING.value:
        return 0
    ahead = session.scalar(
        select(func.count()).where(
            Ticket.branch_id == ticket.branch_id,
            Ticket.status == TicketStatus.WAITING.value,
            Ticket.service_id == ticket.service_id,
            or_(
                Ticket.issued_at < ticket.issued_at,
                and_(Ticket.issued_at == ticket.issued_at, Ticket.id < ticket.id),
            ),
        )
    )
    return int(ahead or 0) + 1


def ticket_with_live_estimate(
    session: Session, config: Config, ticket: Ticket, now: datetime, *, for_holder: bool
) -> dict[str, Any]:
    """A ticket view with its live position and estimate."""
    service = service_row(session, ticket.branch_id, ticket.service_id)
    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id is not None else None
    position = position_of(session, ticket)
    eta = 0
    if position:
        load = branch_load(session, config, ticket.branch_id, now)
        eta = load.estimate(ticket.service_id, position)
    help_requested = bool(
        counter is not None and counter.help_requested_at is not None and ticket.status in ACTIVE_TICKET
    )
    view = ticket_view(
        ticket,
        service_code=service.code,
        counter_number=counter.number if counter is not None else None,
        position=position,
        estimated_wait_s=eta,
        help_requested=help_requested,
        public_url=config.server.public_url if for_holder else None,
    )
    if for_holder:
        view.update(holder_details(session, ticket, service))
    return view


def branch_row(session: Session, branch_id: int) -> dict[str, Any] | None:
    """The branch's code, name, timezone and languages (None for no such branch)."""
    def read() -> dict[str, Any] | bool:
        branch = session.get(Branch, branch_id)
        return {"code": branch.code, "name": branch.name, "timezone": branch.timezone,
                "languages": tuple(branch.languages)} if branch else False

    return _config_rows(session, ("branch", branch_id), read) or None


def holder_details(session: Session, ticket: Ticket, service: Service) -> dict[str, Any]:
    """What the ticket's own phone page needs and nobody else sees: its service's name and
    documents, its branch (any branch of a many-branch server), and the customer's own rating."""
    branch = branch_row(session, ticket.branch_id)
    return {
        "service_name": service.name,
        "documents": service.documents,
        "notes": service.notes,
        "branch": {key: branch[key] for key in ("code", "name", "timezone")} if branch else None,
        "rating": ticket.rating,
        "rating_comment": ticket.rating_comment,
    }


@cache
def _counter_statements() -> SimpleNamespace:
    return SimpleNamespace(
        active=select(Ticket).where(Ticket.counter_id == bindparam("counter_id"), Ticket.status.in_(ACTIVE_TICKET)),
        staff=select(Staff.id, Staff.username, Staff.display_name).where(Staff.id == bindparam("staff_id")),
    )


def active_ticket(session: Session, counter_id: int) -> Ticket | None:
    """The counter's called or serving ticket, if any (the database allows at most one)."""
    return session.scalar(_counter_statements().active, {"counter_id": counter_id})


_UNKNOWN: Any = object()


def counter_view_of(session: Session, counter: Counter, current: Ticket | None = _UNKNOWN) -> dict[str, Any]:
    """One counter in the shape of API.md, from its row (``current``: its ticket, if the caller knows it)."""
    if current is _UNKNOWN:
        current = active_ticket(session, counter.id)
    services = services_by_id(session, counter.branch_id)
    return counter_view(
        counter,
        service_codes=[services[sid].code for sid in counter_services(session, counter.branch_id).get(counter.id, [])],
        staff=session.connection().execute(_counter_statements().staff, {"staff_id": counter.staff_id}).first()
        if counter.staff_id is not None else None,
        current=current,
        current_service_code=services[current.service_id].code if current is not None else None,
    )


def counter_views(session: Session, branch_id: int, number: int | None = None) -> list[dict[str, Any]]:
    """Counters in the shape of API.md, all of a branch or just one."""
    query = select(Counter).where(Counter.branch_id == branch_id, Counter.active.is_(True)).order_by(Counter.number)
    if number is not None:
        query = query.where(Counter.number == number)
    counters = list(session.scalars(query))
    services = services_by_id(session, branch_id)
    lists = counter_services(session, branch_id)
    staff_ids = [c.staff_id for c in counters if c.staff_id is not None]
    staff = {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))} if staff_ids else {}
    current = {
        t.counter_id: t
        for t in session.scalars(
            select(Ticket).where(
                Ticket.counter_id.in_([c.id for c in counters]), Ticket.status.in_(ACTIVE_TICKET)
            )
        )
    }
    views = []
    for counter in counters:
        ticket = current.get(counter.id)
        views.append(
            counter_view(
                counter,
                service_codes=[services[sid].code for sid in lists.get(counter.id, [])],
                staff=staff.get(counter.staff_id) if counter.staff_id is not None else None,
                current=ticket,
                current_service_code=services[ticket.service_id].code if ticket is not None else None,
            )
        )
    return views


def waiting_tickets(session: Session, config: Config, branch_id: int, now: datetime) -> list[dict[str, Any]]:
    """Waiting tickets per service in call order, with positions and estimates (staff view)."""
    load = branch_load(session, config, branch_id, now)
    out = []
    for service in services_by_code(session, branch_id).values():
        tickets = session.scalars(
            select(Ticket)
            .where(
                Ticket.branch_id == branch_id,
                Ticket.status == TicketStatus.WAITING.value,
                Ticket.service_id == service.id,
            )
            .order_by(Ticket.issued_at, Ticket.id)
        )
        views = [
            ticket_view(
                ticket,
                service_code=service.code,
                counter_number=None,
                position=i,
                estimated_wait_s=load.estimate(service.id, i),
            )
            for i, ticket in enumerate(tickets, start=1)
        ]
        out.append(
            {
                "code": service.code,
                "name": service.name,
                "waiting": len(views),
                "estimated_wait_s": load.estimate_new(service.id),
                "tickets": views,
            }
        )
    return out


def recent_calls(session: Session, branch_id: int, since: datetime, limit: int = 8) -> list[dict[str, Any]]:
    """The branch's latest calls since ``since`` (the start of its business day), newest call or
    recall first, for a display's snapshot."""
    rows = session.execute(
        select(Ticket, Service.code, Counter.number)
        .join(Service, Service.id == Ticket.service_id)
        .join(Counter, Counter.id == Ticket.counter_id)
        .where(Ticket.branch_id == branch_id, Ticket.last_called_at >= since)
        .order_by(Ticket.last_called_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return [
        {
            "number": ticket.number,
            "counter": number,
            "service": code,
            "recall": ticket.recall_count > 0,
            "called_at": ticket.last_called_at.isoformat() if ticket.last_called_at else None,
            "status": ticket.status,
        }
        for ticket, code, number in rows
    ]


@cache
def _version_statement() -> Any:
    return select(func.max(Event.id)).where(Event.branch_id == bindparam("branch_id"))


def branch_version(session: Session, branch_id: int) -> int:
    """The branch's newest event id (0 before its first): where its event log stands."""
    return int(session.connection().execute(_version_statement(), {"branch_id": branch_id}).scalar() or 0)
