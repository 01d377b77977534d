"""What the wait estimates and the overrun line are computed from: the day's finished tickets of a
branch and its load now (who waits for what, which counters are open). Reads only; each function
takes an open session and returns plain data.
"""

from __future__ import annotations

import statistics
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from server.config import Config
from server.db import READ_ONLY, after_commit, epoch_seconds, transaction_cache
from server.models import Counter, Ticket
from server.queueing.catalog import LOCK, counter_services, services_by_id
from server.queueing.estimate import (
    ServiceLoad,
    calibration,
    estimate_wait_s,
    mean_service_seconds,
    normal_service_seconds,
    service_loads,
)
from server.queueing.machine import CounterState, TicketStatus
from server.queueing.numbering import day_start_utc

FITS_MARGIN = 1.5  # how much longer than its estimate a wait may run before closing (fits_before_close)
CALIBRATION_WINDOW = 60  # the day's latest finished customers the calibration is measured on


@cache
def _statements() -> SimpleNamespace:
    """The branch-load reads, built once with bound parameters: they run on every change, and
    building a statement costs more than SQLite takes to run it."""
    branch = bindparam("branch_id", type_=Integer())
    since = bindparam("since", type_=Ticket.finished_at.type)
    finished = epoch_seconds(Ticket.finished_at)
    today = (Ticket.branch_id == branch, Ticket.finished_at >= since)
    finished_columns = (Ticket.id, Ticket.service_id, Ticket.status, finished - epoch_seconds(Ticket.called_at),
                        finished - epoch_seconds(Ticket.served_at), Ticket.raw_estimate_s,
                        epoch_seconds(Ticket.called_at) - epoch_seconds(Ticket.issued_at),
                        Ticket.service_id == Ticket.original_service_id, Ticket.finished_at)
    return SimpleNamespace(
        # The (branch_id, finished_at) index serves both: no status in the WHERE.
        finished_mark=select(func.count(), func.max(Ticket.id)).where(*today),
        finished=select(*finished_columns).where(*today).order_by(Ticket.finished_at.desc(), Ticket.id.desc()),
        # The ones finished since the newest already read (at that instant too: ids tell them apart).
        finished_since=select(*finished_columns).where(Ticket.branch_id == branch,
                                                       Ticket.finished_at >= bindparam("after", type_=since.type)),
        # What a branch load reads, in one round trip: (part, a, b, state) rows, part 1 a service's
        # waiting count (a = service id, b = count), part 2 an open counter (a = id, state), part 3
        # the mark of the day's finished tickets (a = count, b = newest id).
        load=union_all(
            select(literal(1, Integer), Ticket.service_id, func.count(), null().cast(String))
            .where(Ticket.branch_id == branch, Ticket.status == TicketStatus.WAITING.value)
            .group_by(Ticket.service_id),
            select(literal(2, Integer), Counter.id, literal(0, Integer), Counter.state)
            .where(Counter.branch_id == branch, Counter.state != CounterState.CLOSED.value),
            select(literal(3, Integer), func.count(), func.max(Ticket.id), null().cast(String)).where(*today),
        ),
    )


@dataclass(frozen=True)
class FinishedToday:
    """What a branch's finished tickets of the day say about its services."""

    # Counter time (call to finish) of each service's latest done tickets, newest first, at most
    # ``queue.service_time_window`` of them: the moving average the wait estimate uses.
    cycles: dict[int, tuple[float, ...]]
    # Median start-to-finish time of each service's done tickets, and how many there were: the
    # normal time a service_overrun is measured against.
    medians: dict[int, tuple[float, int]]
    # How much the day's raw estimates ran short (> 1) or long (< 1): estimate.calibration.
    calibration: float = 1.0


# A finished ticket never changes again, so a branch's set of the day's committed finished tickets
# only grows: its size and newest id say whether what was computed from it still holds. Most changes
# (an issue, a call, a pause) finish nobody, and every change and every sweep that reads the hall
# needs these figures: they are computed about once per finish, per process (kept per connection
# pool, which a database's read and write engines share), not from the whole day each time. A
# write transaction sees its own uncommitted finish, which a rollback could take back: what it
# computed is kept only once it has committed.
_FINISHED: weakref.WeakKeyDictionary[Any, dict[int, tuple[tuple[Any, ...], FinishedToday, list[Any]]]] = (
    weakref.WeakKeyDictionary())


def finished_today(session: Session, branch_id: int, since: datetime, window: int,
                   mark: tuple[int, int | None] | None = None) -> FinishedToday:
    """The branch's :class:`FinishedToday` since ``since`` (read through the connection: the
    caller flushes first). ``mark``: the (count, newest id) of those tickets, when the caller has
    just read it."""
    q = _statements()
    db = session.connection()
    params = {"branch_id": branch_id, "since": since}
    count, newest = mark if mark is not None else db.execute(q.finished_mark, params).one()
    pool = db.engine.pool
    with LOCK:
        kept = _FINISHED.get(pool, {}).get(branch_id)
    if kept is not None and kept[0] == (since, window, count, newest):
        return kept[1]
    rows = _finished_rows(db, q, params, count, newest, kept[2] if kept is not None and kept[0][0] == since else None)
    # The key of what is computed: from the rows themselves (in PostgreSQL each statement of a
    # transaction may see a later commit than the last).
    key = (since, window, len(rows), max((row.id for row in rows), default=None))
    cycles: dict[int, list[float]] = defaultdict(list)
    service_times: dict[int, list[float]] = defaultdict(list)
    promised: list[tuple[float, float]] = []  # (raw estimate, wait) of the latest, for the calibration
    for _id, service_id, status, cycle, service_time, raw, waited, untransferred, _at in rows:
        if raw is not None and waited is not None and untransferred and len(promised) < CALIBRATION_WINDOW:
            promised.append((raw, waited))
        if status != TicketStatus.DONE.value:
            continue
        if cycle is not None and len(cycles[service_id]) < window:
            cycles[service_id].append(cycle)
        if service_time is not None:
            service_times[service_id].append(service_time)
    figures = FinishedToday(
        cycles={service_id: tuple(values) for service_id, values in cycles.items()},
        medians={service_id: (statistics.median(values), len(values)) for service_id, values in service_times.items()},
        calibration=calibration(promised),
    )
    def keep() -> None:
        with LOCK:
            _FINISHED.setdefault(pool, {})[branch_id] = (key, figures, rows)

    if db.get_execution_options().get(READ_ONLY):
        keep()
    else:
        # A write transaction saw its own finishes: kept only once they are committed (a call-next
        # or a finish would otherwise read the whole day again at every change: issue 17).
        after_commit(session, keep)
    return figures


def _finished_rows(db: Any, q: SimpleNamespace, params: dict[str, Any], count: int, newest: int | None,
                   kept: list[Any] | None) -> list[Any]:
    """The day's finished tickets, newest first. With the rows of an earlier read (``kept``) only
    the ones finished since its newest are read and merged: a change a moment after a finish need
    not read the whole day again. The merge is checked against the mark (how many, newest id); a
    ticket that stopped being finished (an undone no-show) makes it disagree, and then the day is
    read whole."""
    if not count:
        return []
    if kept:
        since_newest = db.execute(q.finished_since, {**params, "after": kept[0].finished_at}).all()
        fresh = {row.id for row in since_newest}
        # Every one read now finished at or after the newest kept, and those at that very instant
        # were read again: the new ones in order, then the kept ones, is the whole day in order.
        merged = [*sorted(since_newest, key=lambda row: (row.finished_at, row.id), reverse=True),
                  *(row for row in kept if row.id not in fresh)]
        if len(merged) == count and max(row.id for row in merged) == newest:
            return merged
    return list(db.execute(q.finished, params).all())


def finished_since_day_start(session: Session, config: Config, branch_id: int, now: datetime) -> FinishedToday:
    """:func:`finished_today` for the business day of ``now`` in the branch's zone."""
    since = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    return finished_today(session, branch_id, since, config.queue.service_time_window)


def normal_service_times(config: Config, finished: FinishedToday, services: Any) -> dict[int, float]:
    """The normal start-to-finish time of each of ``services`` (rows with ``id`` and
    ``expected_minutes``), by the branch's ``service_overrun_min_samples``."""
    return normal_service_seconds(finished.medians, [(s.id, s.expected_minutes * 60) for s in services],
                                  config.alerts.service_overrun_min_samples)


@dataclass
class BranchLoad:
    """Everything the wait estimate needs about a branch at one moment."""

    waiting: dict[int, int]
    loads: dict[int, ServiceLoad]
    # What the loads were computed from: (state, service ids) of the open counters, mean counter time per service.
    counters: tuple[tuple[str, tuple[int, ...]], ...] = ()
    means: dict[int, float] | None = None
    calibration: float = 1.0  # the day's measured bias of the raw estimates (estimate.calibration)

    def raw_estimate(self, service_id: int, position: int) -> int:
        """The estimate from the counters and counter times alone."""
        return estimate_wait_s(position, self.loads[service_id])

    def estimate(self, service_id: int, position: int) -> int:
        """The estimate a customer is given: the raw one, its measured bias taken out."""
        return int(round(self.raw_estimate(service_id, position) * self.calibration))

    def staffed(self, service_id: int) -> int:
        """Open, staffed counters that may serve the service (paused ones included)."""
        return sum(1 for _state, services in self.counters if service_id in services)

    def promise(self, service_id: int, position: int) -> int | None:
        """The estimate a customer is shown: none when no staffed counter serves the service — no
        number is promised that no counter backs."""
        return self.estimate(service_id, position) if self.staffed(service_id) else None

    def fits_before_close(self, service_id: int, position: int, now: datetime, closes_at: datetime | None) -> bool:
        """Whether a customer at ``position`` will be called before closing, on the safe side: their
        estimate with half again as much (waits vary, and the last ones of the day ran longest in
        the simulator), plus one counter time for the customer being served when they are next
        (``closes_at``: None when the branch is not serving now). A customer told yes and then sent
        home at closing is the broken promise this is there to prevent."""
        if closes_at is None:
            return False
        slack = (self.means or {}).get(service_id, 0.0)
        return now + timedelta(seconds=FITS_MARGIN * self.estimate(service_id, position) + slack) < closes_at

    def with_waiting(self, service_id: int, count: int) -> BranchLoad:
        """The same hall with ``count`` customers waiting for ``service_id`` (a count read again)."""
        waiting = {**self.waiting, service_id: count}
        return BranchLoad(waiting=waiting, loads=service_loads(self.counters, waiting, self.means or {}),
                          counters=self.counters, means=self.means, calibration=self.calibration)

    def with_one_more(self, service_id: int) -> BranchLoad:
        """The same hall a moment later, with one more customer waiting for ``service_id`` (a ticket
        just issued): nothing else an estimate depends on has changed."""
        return self.with_waiting(service_id, self.waiting.get(service_id, 0) + 1)


def branch_load(session: Session, config: Config, branch_id: int, now: datetime) -> BranchLoad:
    """Service loads for every service of the branch.

    The load is kept for the rest of the transaction until something is written: one change's
    messages (the counter's view, the queue summary) all need it at the same moment."""
    session.flush()  # the reads below go through the connection: pending changes must be in the database
    kept = transaction_cache(session)
    key = ("branch_load", branch_id, now)
    if key in kept:
        load: BranchLoad = kept[key]
        return load
    since = day_start_utc(now.astimezone(config.tz).date(), config.tz)
    waiting: dict[int, int] = {}
    counters: list[tuple[int, str]] = []
    mark: tuple[int, int | None] = (0, None)
    for part, a, b, state in session.connection().execute(_statements().load,
                                                          {"branch_id": branch_id, "since": since}):
        if part == 1:
            waiting[a] = b
        elif part == 2:
            counters.append((a, state))
        else:
            mark = (a, b)
    lists = counter_services(session, branch_id) if counters else {}
    finished = finished_today(session, branch_id, since, config.queue.service_time_window, mark)
    cycles = finished.cycles
    means = {
        service_id: mean_service_seconds(cycles.get(service_id, ()), service.expected_minutes * 60,
                                         config.queue.service_time_min_samples)
        for service_id, service in services_by_id(session, branch_id).items()
    }
    open_counters = tuple((state, tuple(lists.get(counter_id, ()))) for counter_id, state in counters)
    load = BranchLoad(waiting=waiting, loads=service_loads(open_counters, waiting, means), counters=open_counters,
                      means=means, calibration=finished.calibration if config.queue.calibrate_estimates else 1.0)
    kept[key] = load
    return load
