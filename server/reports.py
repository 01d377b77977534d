"""The daily report: what one business day of a branch looked like, from plain rows.

Nothing here knows about Flask or SQL (the endpoint in server/api/reports.py loads the rows). The
figures make complaints #1 (mistakes: outcomes per teller) and #6 (pauses: by reason and counter)
visible, and show the waits behind #3 and #5. The definitions, which the API reference repeats:

Business day
    From midnight to midnight in the branch's time zone; for today, up to now. Tickets are those
    numbered on that day. Every open-ended span (a pause still running, an alert still open, a
    ticket still waiting) is measured up to the end of the period.

Wait
    One visit of a ticket to a service's queue: from entering it (issue, or a transfer into it) to
    being called. A transferred ticket therefore has two waits, one per service; it counts once in
    ``tickets``, under the service it was issued for. Averages and the 90th percentile are over
    the visits that ended in a call. Percentiles use the nearest-rank method (the smallest wait
    that at least 90% of waits do not exceed).

Service level (per service, against its ``target_wait_s``)
    The share of counted visits that were called within the target (a wait equal to the target
    counts as within). A visit is counted once it is decided: called (whatever followed: a no-show
    was called in time or not, and its absence is not a wait we caused), or waited past the target
    without a call (still waiting, or cancelled after the target: both are misses). A visit
    cancelled before the target is not counted, and neither is one still waiting within it.

No-show rate
    Called customers who did not come, among those called whose ticket has ended:
    ``no_show / (done + no_show)``.

Idle time with customers waiting
    Per counter (and the teller signed in there): the time the counter was open, not paused and
    serving nobody (state ``idle``) while at least one ticket of a service it serves was waiting,
    replayed from the event log. It is the time the ``idle_counter`` alert measures, summed over
    the day from the first second rather than from its 60 s threshold.

Waiting series
    Waiting tickets per service at every ``step_s`` (5 minutes) from the earlier of opening time
    and the first event, up to the end of the period (the last point is the end itself), each
    point counting what was waiting just after the events of that instant.

Durations are seconds rounded to 0.1; shares are fractions (0.875), rounded to 4 places.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from server import vocabulary
from server.incident_history import day_incidents, incident_counts
from server.queueing.hours import told_in_time

OUTCOMES = vocabulary.OUTCOMES.codes
PAUSE_REASONS = vocabulary.PAUSE_REASONS.codes
SERIES_STEP_S = 300


# --- the rows a report is made of ----------------------------------------------------------------


class ServiceRow(NamedTuple):
    code: str
    name: dict[str, str]
    target_wait_s: int
    expected_s: float | None = None  # its configured transaction time (the normal one on a quiet day)


class CounterRow(NamedTuple):
    id: int
    number: int
    services: tuple[str, ...]  # service codes, in call order


class StaffRow(NamedTuple):
    id: int
    username: str
    name: str


class TicketRow(NamedTuple):
    id: int
    number: str
    service: str  # the service it is in now (after any transfer)
    issued_service: str  # the service it was issued for
    status: str
    issued_at: datetime
    called_at: datetime | None = None
    served_at: datetime | None = None
    finished_at: datetime | None = None
    staff_id: int | None = None  # the teller at the counter that called it
    outcome: str | None = None
    rating: int | None = None
    estimated_wait_s: int | None = None  # the estimate made at issue (calibrated)
    raw_estimate_s: int | None = None  # the same before the day's calibration
    fits_before_close: bool | None = None  # what the kiosk said about closing (None: no hours kept)
    cancel_reason: str | None = None
    late_warned_at: datetime | None = None  # when, waiting, it was found unlikely to be reached before closing
    priority: bool = False
    rating_comment: str | None = None
    rated_at: datetime | None = None
    counter: int | None = None  # the number of the counter it was last at
    people_ahead: int | None = None  # as the kiosk told the customer


class EventRow(NamedTuple):
    """One row of the event log (ticket or counter), in log order."""

    at: datetime
    entity: str  # ticket | counter
    entity_id: int
    action: str
    from_state: str | None
    to_state: str
    staff_id: int | None = None
    data: dict[str, Any] | None = None


class AlertRow(NamedTuple):
    rule: str
    severity: str
    raised_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    lead_time_s: int | None = None
    subject: str | None = None  # "ticket:<id>", "counter:<number>", "service:<code>" or "branch"
    ticket_id: int | None = None  # the ticket it names
    counter: int | None = None  # the number of the counter it names
    acted: bool = False  # the manager sent a counter an instruction naming it
    # The other situations the card told, as (rule, subject, first shown) (server/alerts/stories.py).
    told: tuple[tuple[str, str, datetime], ...] = ()


class InstructionRow(NamedTuple):
    """An instruction the lobby manager sent a counter that day, and its answer."""

    kind: str
    teller_id: int | None  # who sat at the counter when it was sent
    issued_at: datetime
    answer: str | None = None  # done | cannot
    answered_at: datetime | None = None


class CounterStart(NamedTuple):
    """A counter as the day found it (what the last event before midnight left)."""

    state: str = "closed"
    staff_id: int | None = None
    pause_reason: str | None = None


@dataclass(frozen=True)
class ReportDay:
    """The period a report covers: ``date`` in ``tz``, cut at ``now`` when the day is not over."""

    date: date
    tz: ZoneInfo
    now: datetime
    opening: time = time(9, 0)
    closing: time = time(17, 0)

    def local(self, clock_time: time, day: _dt.date | None = None) -> datetime:
        return datetime.combine(day or self.date, clock_time, tzinfo=self.tz).astimezone(timezone.utc)

    @property
    def start(self) -> datetime:
        return self.local(time(0))

    @property
    def end(self) -> datetime:
        return self.local(time(0), self.date + timedelta(days=1))

    @property
    def until(self) -> datetime:
        """The end of the period: the day's end, or now if earlier (never before the start)."""
        return max(self.start, min(self.now, self.end))

    @property
    def complete(self) -> bool:
        return self.now >= self.end


# --- small statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest rank: the smallest value that at least ``share`` of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _span(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


# --- queue visits --------------------------------------------------------------------------------


class Visit(NamedTuple):
    """A ticket's stay in one service's queue."""

    ticket_id: int
    service: str
    entered_at: datetime
    left_at: datetime | None  # None: still waiting at the end of the period
    ended: str | None  # "called" | "cancelled" | None
    transferred_in: bool


def queue_visits(tickets: Iterable[TicketRow], events: Iterable[EventRow], until: datetime) -> list[Visit]:
    """Every queue visit of ``tickets``, from their event history up to ``until``.

    A ticket enters a queue whenever an event leaves it ``waiting`` (issue, transfer; the service
    comes from the event's data) and leaves it with the next event that takes it out of
    ``waiting`` (call, cancel). A ticket without history falls back to its row: issue to call.
    """
    history: dict[int, list[EventRow]] = defaultdict(list)
    for event in events:
        if event.entity == "ticket" and event.at <= until:
            history[event.entity_id].append(event)
    visits: list[Visit] = []
    for ticket in tickets:
        own = history.get(ticket.id)
        if not own:
            if ticket.issued_at <= until:
                called = ticket.called_at if ticket.called_at is not None and ticket.called_at <= until else None
                visits.append(Visit(ticket.id, ticket.issued_service, ticket.issued_at, called,
                                    "called" if called else None, False))
            continue
        current: tuple[str, datetime, bool] | None = None
        for event in own:
            data = event.data or {}
            if event.to_state == "waiting" and event.from_state != "waiting":
                service = data.get("to_service") or data.get("service") or (
                    ticket.issued_service if event.action == "issue" else ticket.service
                )
                current = (service, event.at, event.action != "issue")
            elif event.from_state == "waiting" and event.to_state != "waiting" and current is not None:
                ended = "called" if event.to_state == "called" else "cancelled"
                visits.append(Visit(ticket.id, current[0], current[1], event.at, ended, current[2]))
                current = None
        if current is not None:
            visits.append(Visit(ticket.id, current[0], current[1], None, None, current[2]))
    return visits


# --- the day replayed ----------------------------------------------------------------------------


@dataclass
class _CounterNow:
    number: int
    services: tuple[str, ...]
    state: str = "closed"
    staff_id: int | None = None
    pause_reason: str | None = None
    paused_since: datetime | None = None


class Pause(NamedTuple):
    counter: int
    staff_id: int | None
    reason: str
    started_at: datetime
    ended_at: datetime
    ongoing: bool

    @property
    def seconds(self) -> float:
        return _span(self.started_at, self.ended_at)


@dataclass
class Replay:
    """What replaying the day's events produced."""

    signed_in_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))  # counter number -> s
    idle_waiting_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    paused_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    staff_signed_in_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))  # staff id -> s
    staff_idle_waiting_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    staff_paused_s: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))
    staff_counters: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    pauses: list[Pause] = field(default_factory=list)
    series_t: list[int] = field(default_factory=list)
    series: dict[str, list[int]] = field(default_factory=dict)


def replay_day(
    day: ReportDay,
    counters: Sequence[CounterRow],
    counter_events: Iterable[EventRow],
    visits: Sequence[Visit],
    services: Sequence[str],
    counters_at_start: dict[int, CounterStart] | None = None,
    step_s: int = SERIES_STEP_S,
) -> Replay:
    """Walk the day in time order: counter states and queue lengths between consecutive events.

    Integrates signed-in, paused and idle-with-customers-waiting time per counter and per teller,
    collects the pauses, and samples the waiting count per service (see the module docstring).
    """
    start, until = day.start, day.until
    state: dict[int, _CounterNow] = {}
    for row in counters:
        initial = (counters_at_start or {}).get(row.id, CounterStart())
        state[row.id] = _CounterNow(
            number=row.number, services=row.services, state=initial.state, staff_id=initial.staff_id,
            pause_reason=initial.pause_reason, paused_since=start if initial.state == "paused" else None,
        )
    waiting: Counter[str] = Counter()

    # (time, kind, index, change), in time order; no time passes between changes of one instant.
    changes: list[tuple[datetime, int, int, Any]] = []
    for i, visit in enumerate(visits):
        changes.append((visit.entered_at, 0, i, ("enter", visit.service)))
        if visit.left_at is not None:
            changes.append((visit.left_at, 0, i, ("leave", visit.service)))
    for i, event in enumerate(counter_events):
        if event.entity == "counter" and event.at <= until:
            changes.append((event.at, 1, i, event))
    changes.sort(key=lambda change: (change[0], change[1], change[2]))

    result = Replay()
    result.series = {code: [] for code in services}
    first_change = changes[0][0] if changes else until
    series_start = _floor_to_step(max(start, min(day.local(day.opening), first_change, until)), step_s)
    # A finished day's chart ends at closing time or its last event, not at midnight.
    last_change = changes[-1][0] if changes else start
    series_end = min(until, max(day.local(day.closing), last_change)) if day.complete else until
    grid = _grid(series_start, series_end, step_s)
    next_point = 0

    def sample_until(moment: datetime, inclusive: bool) -> None:
        nonlocal next_point
        while next_point < len(grid) and (grid[next_point] < moment or (inclusive and grid[next_point] <= moment)):
            result.series_t.append(int(grid[next_point].timestamp()))
            for code in services:
                result.series[code].append(waiting.get(code, 0))
            next_point += 1

    def integrate(t0: datetime, t1: datetime) -> None:
        dt = _span(max(t0, start), min(t1, until))
        if dt <= 0:
            return
        for counter in state.values():
            if counter.state == "closed":
                continue
            result.signed_in_s[counter.number] += dt
            if counter.staff_id is not None:
                result.staff_signed_in_s[counter.staff_id] += dt
            if counter.state == "paused":
                result.paused_s[counter.number] += dt
                if counter.staff_id is not None:
                    result.staff_paused_s[counter.staff_id] += dt
            elif counter.state == "idle" and any(waiting.get(code, 0) > 0 for code in counter.services):
                result.idle_waiting_s[counter.number] += dt
                if counter.staff_id is not None:
                    result.staff_idle_waiting_s[counter.staff_id] += dt

    for counter in state.values():
        if counter.staff_id is not None and counter.state != "closed":
            result.staff_counters[counter.staff_id].add(counter.number)

    previous = start
    for at, _, _, change in changes:
        if at > until:
            break
        sample_until(at, inclusive=False)
        integrate(previous, at)
        previous = max(previous, at)
        if not isinstance(change, EventRow):
            kind, code = change
            waiting[code] += 1 if kind == "enter" else -1
            continue
        event = change
        found = state.get(event.entity_id)
        if found is None:  # a counter since removed from config
            number = int((event.data or {}).get("number", -event.entity_id))
            found = state[event.entity_id] = _CounterNow(number=number, services=())
        _apply_counter_event(found, event, result)
    sample_until(series_end, inclusive=True)
    integrate(previous, until)
    if not grid or grid[-1] < series_end:
        result.series_t.append(int(series_end.timestamp()))
        for code in services:
            result.series[code].append(waiting.get(code, 0))
    for counter in state.values():
        if counter.state == "paused" and counter.paused_since is not None:
            result.pauses.append(Pause(counter.number, counter.staff_id, counter.pause_reason or "other",
                                       counter.paused_since, until, True))
    return result


def _apply_counter_event(counter: _CounterNow, event: EventRow, result: Replay) -> None:
    before, after = counter.state, event.to_state
    if event.action == "open":
        counter.staff_id = event.staff_id
        if event.staff_id is not None:
            result.staff_counters[event.staff_id].add(counter.number)
    if after == "paused" and before != "paused":
        counter.pause_reason = (event.data or {}).get("reason") or "other"
        counter.paused_since = event.at
    elif before == "paused" and after != "paused":
        if counter.paused_since is not None:
            result.pauses.append(Pause(counter.number, counter.staff_id, counter.pause_reason or "other",
                                       counter.paused_since, event.at, False))
        counter.pause_reason = None
        counter.paused_since = None
    counter.state = after
    if after == "closed":
        counter.staff_id = None


def _floor_to_step(moment: datetime, step_s: int) -> datetime:
    stamp = moment.timestamp()
    return datetime.fromtimestamp(stamp - stamp % step_s, timezone.utc)


def _grid(first: datetime, last: datetime, step_s: int) -> list[datetime]:
    if last < first:
        return []
    count = int(_span(first, last) // step_s) + 1
    return [first + timedelta(seconds=step_s * k) for k in range(count)]


# --- the report ----------------------------------------------------------------------------------


def daily_report(
    day: ReportDay,
    *,
    services: Sequence[ServiceRow],
    counters: Sequence[CounterRow],
    staff: Sequence[StaffRow],
    tickets: Sequence[TicketRow],
    events: Sequence[EventRow],
    alerts: Sequence[AlertRow],
    counters_at_start: dict[int, CounterStart] | None = None,
    instructions: Sequence[InstructionRow] = (),
    rules: Sequence[str] = (),
    default_target_s: int = 1200,
    step_s: int = SERIES_STEP_S,
) -> dict[str, Any]:
    """The whole report for ``day`` as plain data (the JSON of ``GET /api/v1/reports/daily``).

    ``events`` are the day's log in order (ticket and counter events; others are ignored),
    ``alerts`` those raised during the day, ``rules`` every alert rule name (so a quiet rule shows
    as zero), ``counters_at_start`` the counters as midnight found them (default: closed),
    ``instructions`` those the lobby manager sent during the day.
    """
    until = day.until
    tickets = [t for t in tickets if t.issued_at <= until]
    codes = [s.code for s in services]
    known = {s.code: s for s in services}
    extra = sorted(({t.service for t in tickets} | {t.issued_service for t in tickets}) - set(codes))
    for code in extra:  # tickets of a service no longer configured still count
        known[code] = ServiceRow(code, {}, default_target_s)
        codes.append(code)

    visits = queue_visits(tickets, events, until)
    counter_events = [e for e in events if e.entity == "counter"]
    replay = replay_day(day, counters, counter_events, visits, codes, counters_at_start, step_s)

    incidents = day_incidents(day, tickets=tickets, visits=visits, counters=counters, counter_events=counter_events,
                              counters_at_start=counters_at_start, alerts=alerts,
                              expected_s={s.code: s.expected_s for s in services if s.expected_s})
    service_rows = [_service_figures(known[code], tickets, visits, until) for code in codes]
    called = [v for v in visits if v.ended == "called"]
    waits = [_span(v.entered_at, v.left_at) for v in called if v.left_at is not None]
    met = sum(row["service_level_met"] for row in service_rows)
    counted = sum(row["service_level_counted"] for row in service_rows)
    statuses = Counter(t.status for t in tickets)
    outcomes = _outcomes(tickets)
    served = [t for t in tickets if t.status == "done"]
    ratings = [t.rating for t in tickets if t.rating is not None]

    return {
        "date": day.date.isoformat(),
        "timezone": str(day.tz.key),
        "period": {"start": day.start.isoformat(), "end": until.isoformat(), "complete": day.complete},
        "generated_at": day.now.isoformat(),
        "headline": {
            "tickets": len(tickets),
            "served": len(served),
            "no_shows": statuses["no_show"],
            "cancelled": statuses["cancelled"],
            "waiting": sum(1 for v in visits if v.left_at is None),
            **_wait_figures(waits, met, counted, statuses["no_show"], len(served)),
            "error_rate": ratio(outcomes["redo"] + outcomes["error"], len(served)),
            "outcomes": outcomes,
            "avg_service_s": seconds(mean(_service_times(served))),
            "ratings": _ratings(ratings),
            "alerts": len(alerts),
            "idle_with_waiting_s": seconds(sum(replay.idle_waiting_s.values())),
            "paused_s": seconds(sum(replay.paused_s.values())),
            "instructions": _instruction_figures(instructions, until),
            "estimates": _estimate_figures(tickets, day.local(day.closing)),
            "priority": _priority_figures(tickets),
            "counter_tools": _counter_tool_figures(tickets, events),
            "incidents": incident_counts(incidents),
            "incidents_warned": sum(1 for i in incidents if i["warned"]),
        },
        "ratings": {**_ratings(ratings), "comments": _rating_comments(tickets, staff, until)},
        "services": service_rows,
        "tickets_per_hour": _tickets_per_hour(day, tickets, codes),
        "tellers": _teller_rows(staff, tickets, replay, instructions, until),
        "counters": _counter_rows(counters, tickets, replay),
        "pauses": _pause_rows(replay.pauses),
        "alerts": _alert_rows(alerts, rules, until),
        "waiting_series": {"step_s": step_s, "t": replay.series_t, "services": replay.series},
        "incidents": incidents,
    }


def _wait_figures(waits: Sequence[float], met: int, counted: int, no_shows: int, served: int) -> dict[str, Any]:
    """The wait and service-level figures, the same for the whole branch and for one service."""
    return {
        "avg_wait_s": seconds(mean(waits)),
        "p90_wait_s": seconds(percentile(waits, 0.9)),
        "max_wait_s": seconds(max(waits)) if waits else None,
        "service_level": ratio(met, counted),
        "service_level_met": met,
        "service_level_counted": counted,
        "no_show_rate": ratio(no_shows, served + no_shows),
    }


def _service_figures(service: ServiceRow, tickets: Sequence[TicketRow], visits: Sequence[Visit],
                     until: datetime) -> dict[str, Any]:
    code, target = service.code, service.target_wait_s
    mine = [v for v in visits if v.service == code]
    waits = [_span(v.entered_at, v.left_at) for v in mine if v.ended == "called" and v.left_at is not None]
    met = counted = 0
    for visit in mine:
        waited = _span(visit.entered_at, visit.left_at or until)
        if visit.ended == "called":
            counted += 1
            met += waited <= target
        elif waited > target:  # still waiting, or gave up, past the target
            counted += 1
    ending_here = [t for t in tickets if t.service == code]
    statuses = Counter(t.status for t in ending_here)
    served = [t for t in ending_here if t.status == "done"]
    return {
        "code": code,
        "name": service.name,
        "target_wait_s": target,
        "tickets": sum(1 for t in tickets if t.issued_service == code),
        "transferred_in": sum(1 for v in mine if v.transferred_in),
        "called": len(waits),
        "served": len(served),
        "no_shows": statuses["no_show"],
        "cancelled": statuses["cancelled"],
        "waiting": sum(1 for v in mine if v.left_at is None),
        **_wait_figures(waits, met, counted, statuses["no_show"], len(served)),
        "avg_service_s": seconds(mean(_service_times(served))),
        "outcomes": _outcomes(ending_here),
    }


def _service_times(served: Iterable[TicketRow]) -> list[float]:
    return [_span(t.served_at, t.finished_at) for t in served if t.served_at and t.finished_at]


def _outcomes(tickets: Iterable[TicketRow]) -> dict[str, int]:
    tally = Counter(t.outcome for t in tickets if t.status == "done")
    return {outcome: tally[outcome] for outcome in OUTCOMES}


def _ratings(stars: Sequence[int]) -> dict[str, Any]:
    return {"count": len(stars), "mean": round(sum(stars) / len(stars), 2) if stars else None}


def _priority_figures(tickets: Sequence[TicketRow]) -> dict[str, Any]:
    """Priority customers: how many, how many served, and their mean wait (issue to first call)
    beside everyone else's."""
    def waits(rows: Iterable[TicketRow]) -> list[float]:
        return [_span(t.issued_at, t.called_at) for t in rows if t.called_at is not None]

    priority = [t for t in tickets if t.priority]
    return {"issued": len(priority), "served": sum(t.status == "done" for t in priority),
            "mean_wait_s": seconds(mean(waits(priority))),
            "others_mean_wait_s": seconds(mean(waits(t for t in tickets if not t.priority)))}


def _counter_tool_figures(tickets: Sequence[TicketRow], events: Sequence[EventRow]) -> dict[str, int]:
    """How often the counter's tools were used: customers set aside (hold), no-shows who came back
    (return), outcomes undone, tickets called by choice rather than call-next, and customers who left
    the queue from their phone."""
    actions = Counter(e.action for e in events if e.entity == "ticket")
    chosen = sum(1 for e in events
                 if e.entity == "ticket" and e.action == "call" and (e.data or {}).get("by") == "call")
    return {"held": actions["hold"], "returned": actions["return"],
            "undone": actions["undo_complete"] + actions["undo_no_show"], "called_by_choice": chosen,
            "cancelled_by_customer": sum(1 for t in tickets if t.cancel_reason == "customer")}


def _rating_comments(tickets: Sequence[TicketRow], staff: Sequence[StaffRow], until: datetime) -> list[dict[str, Any]]:
    """Every rating of the day, newest first, with its comment, counter and teller."""
    names = {person.id: person.name for person in staff}
    rated = sorted((t for t in tickets if t.rating is not None and (t.rated_at is None or t.rated_at <= until)),
                   key=lambda t: (t.rated_at or t.issued_at, t.id), reverse=True)
    return [{"number": t.number, "service": t.service, "stars": t.rating, "comment": t.rating_comment,
             "counter": t.counter, "teller": names.get(t.staff_id) if t.staff_id is not None else None,
             "rated_at": t.rated_at.isoformat() if t.rated_at else None} for t in rated]


def _tickets_per_hour(day: ReportDay, tickets: Sequence[TicketRow], codes: Sequence[str]) -> dict[str, Any]:
    """Issued tickets per local hour and service, over the opening hours and any hour with tickets."""
    by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    for ticket in tickets:
        by_hour[ticket.issued_at.astimezone(day.tz).hour][ticket.issued_service] += 1
    first = min([day.opening.hour, *by_hour])
    last_open = day.closing.hour - (1 if day.closing.minute == 0 else 0)
    last = max([last_open, *by_hour])
    hours = list(range(first, last + 1))
    return {
        "hours": hours,
        "services": {code: [by_hour[h][code] for h in hours] for code in codes},
        "total": [sum(by_hour[h].values()) for h in hours],
    }


ESTIMATE_CLOSE_S = 300  # an estimate within five minutes of the real wait counts as kept


def _estimate_figures(tickets: Sequence[TicketRow], closes_at: datetime) -> dict[str, Any]:
    """How good the waits promised at issue were against the real waits (issue to first call).

    Counted: tickets called in the service they were issued for (a transfer starts a new wait that
    no one estimated). ``bias_s`` is the mean of real minus estimated: above zero, customers waited
    longer than they were told. ``raw_mean_abs_error_s`` is the same estimate before the day's
    calibration, to show what the calibration changed. Warnings that a customer may not be served
    today: ``warned_late`` at the kiosk, ``warned_while_waiting`` later (phone page, lobby screen).
    At closing: ``cancelled_at_closing`` tickets sent home, of which ``cancelled_unwarned`` were never
    told, at the kiosk or in time while waiting (:func:`~server.queueing.hours.told_in_time`) — the
    broken promise those warnings are there to prevent.
    """
    pairs = [
        (_span(t.issued_at, t.called_at), t.estimated_wait_s, t.raw_estimate_s)
        for t in tickets
        if t.called_at is not None and t.estimated_wait_s is not None and t.service == t.issued_service
    ]
    errors = [real - told for real, told, _raw in pairs]
    raw_errors = [abs(real - raw) for real, _told, raw in pairs if raw is not None]
    closed = [t for t in tickets if t.status == "cancelled" and t.cancel_reason == "branch_closed"]
    return {
        "counted": len(pairs),
        "mean_abs_error_s": seconds(mean([abs(e) for e in errors])),
        "median_abs_error_s": seconds(percentile([abs(e) for e in errors], 0.5)),
        "bias_s": seconds(mean(errors)),
        "within_5min": ratio(sum(1 for e in errors if abs(e) <= ESTIMATE_CLOSE_S), len(errors)),
        "longer_than_told": ratio(sum(1 for e in errors if e > ESTIMATE_CLOSE_S), len(errors)),
        "raw_mean_abs_error_s": seconds(mean(raw_errors)),
        "warned_late": sum(1 for t in tickets if t.fits_before_close is False),
        "warned_while_waiting": sum(1 for t in tickets if t.late_warned_at is not None),
        "cancelled_at_closing": len(closed),
        "cancelled_unwarned": sum(1 for t in closed
                                  if not told_in_time(t.fits_before_close, t.late_warned_at, closes_at)),
    }


def _instruction_figures(instructions: Sequence[InstructionRow], until: datetime) -> dict[str, Any]:
    """How many instructions, how they were answered, and how fast (sent to answered)."""
    answered = [i for i in instructions if i.answered_at is not None and i.answered_at <= until]
    return {
        "sent": len(instructions),
        "done": sum(1 for i in answered if i.answer == "done"),
        "cannot": sum(1 for i in answered if i.answer == "cannot"),
        "unanswered": len(instructions) - len(answered),
        "median_answer_s": seconds(percentile([_span(i.issued_at, i.answered_at) for i in answered
                                               if i.answered_at is not None], 0.5)),
    }


def _teller_rows(staff: Sequence[StaffRow], tickets: Sequence[TicketRow], replay: Replay,
                 instructions: Sequence[InstructionRow] = (), until: datetime | None = None) -> list[dict[str, Any]]:
    names = {person.id: person for person in staff}
    ids = (
        {t.staff_id for t in tickets if t.staff_id is not None}
        | set(replay.staff_signed_in_s)
        | set(replay.staff_counters)
        | {i.teller_id for i in instructions if i.teller_id is not None}
    )
    rows: list[dict[str, Any]] = []
    for staff_id in ids:
        person = names.get(staff_id)
        theirs = [t for t in tickets if t.staff_id == staff_id]
        served = [t for t in theirs if t.status == "done"]
        outcomes = _outcomes(served)
        rows.append({
            "id": staff_id,
            "username": person.username if person else str(staff_id),
            "name": person.name if person else str(staff_id),
            "counters": sorted(replay.staff_counters.get(staff_id, set())),
            "served": len(served),
            "no_shows": sum(1 for t in theirs if t.status == "no_show"),
            "outcomes": outcomes,
            "error_rate": ratio(outcomes["redo"] + outcomes["error"], len(served)),
            "avg_service_s": seconds(mean(_service_times(served))),
            "idle_with_waiting_s": seconds(replay.staff_idle_waiting_s[staff_id]),
            "paused_s": seconds(replay.staff_paused_s[staff_id]),
            "signed_in_s": seconds(replay.staff_signed_in_s[staff_id]),
            "ratings": _ratings([t.rating for t in served if t.rating is not None]),
            "instructions": _instruction_figures([i for i in instructions if i.teller_id == staff_id],
                                                 until or datetime.max.replace(tzinfo=timezone.utc)),
        })
    rows.sort(key=lambda row: (-row["served"], row["username"]))
    return rows


def _counter_rows(counters: Sequence[CounterRow], tickets: Sequence[TicketRow], replay: Replay) -> list[dict[str, Any]]:
    numbers = sorted({c.number for c in counters} | set(replay.signed_in_s))
    rows = []
    for number in numbers:
        pauses = [p for p in replay.pauses if p.counter == number]
        by_reason: defaultdict[str, float] = defaultdict(float)
        for pause in pauses:
            by_reason[pause.reason] += pause.seconds
        rows.append({
            "number": number,
            "signed_in_s": seconds(replay.signed_in_s[number]),
            "paused_s": seconds(replay.paused_s[number]),
            "pauses": len(pauses),
            "paused_by_reason_s": {reason: seconds(by_reason[reason]) for reason in _reasons(by_reason)},
            "idle_with_waiting_s": seconds(replay.idle_waiting_s[number]),
        })
    return rows


def _reasons(seen: Iterable[str]) -> list[str]:
    return [*PAUSE_REASONS, *sorted(set(seen) - set(PAUSE_REASONS))]


def _pause_rows(pauses: Sequence[Pause]) -> list[dict[str, Any]]:
    by_reason: dict[str, list[float]] = defaultdict(list)
    for pause in pauses:
        by_reason[pause.reason].append(pause.seconds)
    return [
        {
            "reason": reason,
            "count": len(by_reason[reason]),
            "total_s": seconds(sum(by_reason[reason])),
            "mean_s": seconds(mean(by_reason[reason])),
            "max_s": seconds(max(by_reason[reason])) if by_reason[reason] else None,
            "ongoing": sum(1 for p in pauses if p.reason == reason and p.ongoing),
        }
        for reason in _reasons(by_reason)
    ]


def _alert_rows(alerts: Sequence[AlertRow], rules: Sequence[str], until: datetime) -> list[dict[str, Any]]:
    by_rule: dict[str, list[AlertRow]] = {rule: [] for rule in rules}
    for alert in alerts:
        by_rule.setdefault(alert.rule, []).append(alert)
    rows = []
    for rule, raised in by_rule.items():
        open_for = [_span(a.raised_at, a.resolved_at or until) for a in raised]
        to_ack = [_span(a.raised_at, a.acknowledged_at) for a in raised if a.acknowledged_at is not None]
        leads = [a.lead_time_s for a in raised if a.lead_time_s is not None]
        rows.append({
            "rule": rule,
            "raised": len(raised),
            "critical": sum(1 for a in raised if a.severity == "critical"),
            "acknowledged": len(to_ack),
            "acted": sum(1 for a in raised if a.acted),
            "open": sum(1 for a in raised if a.resolved_at is None),
            "open_mean_s": seconds(mean(open_for)),
            "open_max_s": seconds(max(open_for)) if open_for else None,
            "ack_mean_s": seconds(mean(to_ack)),
            "lead_mean_s": seconds(mean(leads)),
            "lead_min_s": seconds(min(leads)) if leads else None,
        })
    return rows


# --- CSV -----------------------------------------------------------------------------------------

SECTION_TITLES = {
    "summary": {"zh": "概要", "en": "Summary"},
    "services": {"zh": "按业务", "en": "By service"},
    "hours": {"zh": "每小时取号数", "en": "Tickets per hour"},
    "tellers": {"zh": "按柜员", "en": "By teller"},
    "counters": {"zh": "按窗口", "en": "By counter"},
    "pauses": {"zh": "暂停原因", "en": "Pauses by reason"},
    "alerts": {"zh": "预警", "en": "Alerts by rule"},
    "ratings": {"zh": "客户评价", "en": "Ratings and comments"},
}

# (key in the row, zh header, en header); "%" keys are shares shown as percentages. Headers that
# name a word of server/vocabulary.py (an outcome, a pause reason) are made from its labels.
OUTCOME_COLUMNS = [
    (f"outcomes.{code}", f"结果-{vocabulary.OUTCOMES.label(code)['zh']}",
     f"Outcome: {vocabulary.OUTCOMES.phrase(code)['en']}")
    for code in OUTCOMES
]
PAUSED_BY_REASON_COLUMNS = [
    (f"paused_by_reason_s.{code}", f"暂停-{vocabulary.PAUSE_REASONS.phrase(code)['zh']}(秒)",
     f"Paused: {vocabulary.PAUSE_REASONS.phrase(code)['en']} (s)")
    for code in PAUSE_REASONS
]
# Cells holding a code of one of those lists, written as its label.
LABELLED_CELLS = {"reason": vocabulary.PAUSE_REASONS, "rule": vocabulary.ALERT_RULES}
SERVICE_COLUMNS = [
    ("code", "业务代码", "Service"), ("name", "业务名称", "Name"), ("target_wait_s", "目标等候(秒)", "Target wait (s)"),
    ("tickets", "取号数", "Tickets"), ("transferred_in", "转入", "Transferred in"), ("called", "已叫号", "Called"),
    ("served", "办结", "Served"), ("no_shows", "过号", "No-shows"), ("cancelled", "取消", "Cancelled"),
    ("waiting", "仍在等候", "Still waiting"), ("avg_wait_s", "平均等候(秒)", "Avg wait (s)"),
    ("p90_wait_s", "90%等候(秒)", "P90 wait (s)"), ("max_wait_s", "最长等候(秒)", "Max wait (s)"),
    ("service_level%", "服务水平(%)", "Service level (%)"), ("service_level_met", "达标数", "Within target"),
    ("service_level_counted", "计入数", "Counted"), ("no_show_rate%", "过号率(%)", "No-show rate (%)"),
    ("avg_service_s", "平均办理(秒)", "Avg service (s)"), *OUTCOME_COLUMNS,
]
TELLER_COLUMNS = [
    ("username", "用户名", "Username"), ("name", "姓名", "Name"), ("counters", "窗口", "Counters"),
    ("served", "办结", "Served"), ("no_shows", "过号", "No-shows"), *OUTCOME_COLUMNS,
    ("error_rate%", "差错率(%)", "Redo+error (%)"), ("avg_service_s", "平均办理(秒)", "Avg service (s)"),
    ("idle_with_waiting_s", "有客等候时空闲(秒)", "Idle with customers waiting (s)"),
    ("paused_s", "暂停(秒)", "Paused (s)"), ("signed_in_s", "在岗(秒)", "Signed in (s)"),
    ("ratings.count", "评价数", "Ratings"), ("ratings.mean", "平均评分", "Mean rating"),
]
COUNTER_COLUMNS = [
    ("number", "窗口", "Counter"), ("signed_in_s", "在岗(秒)", "Signed in (s)"), ("paused_s", "暂停(秒)", "Paused (s)"),
    ("pauses", "暂停次数", "Pauses"), *PAUSED_BY_REASON_COLUMNS,
    ("idle_with_waiting_s", "有客等候时空闲(秒)", "Idle with customers waiting (s)"),
]
PAUSE_COLUMNS = [
    ("reason", "原因", "Reason"), ("count", "次数", "Count"), ("total_s", "合计(秒)", "Total (s)"),
    ("mean_s", "平均(秒)", "Mean (s)"), ("max_s", "最长(秒)", "Max (s)"), ("ongoing", "仍在暂停", "Ongoing"),
]
ALERT_COLUMNS = [
    ("rule", "规则", "Rule"), ("raised", "触发次数", "Raised"), ("critical", "严重", "Critical"),
    ("acknowledged", "已确认", "Acknowledged"), ("open", "仍未解除", "Still open"),
    ("open_mean_s", "平均持续(秒)", "Open mean (s)"), ("open_max_s", "最长持续(秒)", "Open max (s)"),
    ("ack_mean_s", "平均确认用时(秒)", "Mean time to acknowledge (s)"),
    ("lead_mean_s", "平均提前量(秒)", "Lead time mean (s)"), ("lead_min_s", "最短提前量(秒)", "Lead time min (s)"),
]
SUMMARY_ROWS = [
    ("tickets", "取号数", "Tickets"), ("served", "办结", "Served"), ("no_shows", "过号", "No-shows"),
    ("cancelled", "取消", "Cancelled"), ("waiting", "仍在等候", "Still waiting"),
    ("avg_wait_s", "平均等候(秒)", "Average wait (s)"), ("p90_wait_s", "90%等候(秒)", "90th percentile wait (s)"),
    ("max_wait_s", "最长等候(秒)", "Longest wait (s)"), ("service_level%", "服务水平(%)", "Service level (%)"),
    ("no_show_rate%", "过号率(%)", "No-show rate (%)"), ("error_rate%", "重办+差错率(%)", "Redo + error rate (%)"),
    *OUTCOME_COLUMNS, ("avg_service_s", "平均办理(秒)", "Average service (s)"),
    ("ratings.count", "评价数", "Ratings"), ("ratings.mean", "平均评分", "Mean rating"),
    ("alerts", "预警数", "Alerts raised"),
    ("estimates.mean_abs_error_s", "预计等候平均误差(秒)", "Wait estimate: mean error (s)"),
    ("estimates.bias_s", "预计等候偏差(秒,正=实际更久)", "Wait estimate: bias (s, + = waited longer)"),
    ("estimates.within_5min%", "预计等候5分钟内准确(%)", "Wait estimate within 5 min (%)"),
    ("estimates.raw_mean_abs_error_s", "校准前平均误差(秒)", "Before calibration: mean error (s)"),
    ("estimates.warned_late", "取号时提示今日可能无法办理", "Warned at the kiosk: may not be served today"),
    ("estimates.cancelled_at_closing", "营业结束时取消", "Cancelled at closing"),
    ("estimates.cancelled_unwarned", "其中取号时未提示", "Of which not warned at the kiosk"),
    ("idle_with_waiting_s", "有客等候时窗口空闲(秒)", "Counter idle with customers waiting (s)"),
    ("paused_s", "窗口暂停(秒)", "Counter paused (s)"),
    ("priority.issued", "优先号", "Priority tickets"),
    ("priority.mean_wait_s", "优先客户平均等候(秒)", "Priority customers: average wait (s)"),
    ("priority.others_mean_wait_s", "其他客户平均等候(秒)", "Other customers: average wait (s)"),
    ("counter_tools.held", "暂挂", "Set aside (held)"),
    ("counter_tools.returned", "过号后回来", "No-shows who came back"),
    ("counter_tools.undone", "撤销结果", "Outcomes undone"),
    ("counter_tools.called_by_choice", "指定叫号", "Called by choice"),
    ("counter_tools.cancelled_by_customer", "客户自行取消", "Left the queue from the phone"),
]
RATING_COLUMNS = [
    ("rated_at", "时间", "Time"), ("number", "号码", "Number"), ("service", "业务", "Service"),
    ("stars", "星级", "Stars"), ("comment", "留言", "Comment"), ("counter", "窗口", "Counter"),
    ("teller", "柜员", "Teller"),
]


def report_csv(report: dict[str, Any], lang: str = "zh", branch_name: str = "") -> str:
    """The report as one CSV text in sections, for Excel.

    Layout: a title row, then one section per table — a row with the section's title alone, a header
    row, the data rows, and an empty row. Sections: summary (figure, value), services, tickets per
    hour (one column per service), tellers, counters, pauses by reason, alerts by rule, ratings with
    their comments. Headers and
    service names are in ``lang``; durations in seconds, shares in percent. The caller adds the BOM.
    """
    en = lang == "en"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def title(key: str) -> None:
        writer.writerow([SECTION_TITLES[key]["en" if en else "zh"]])

    def table(key: str, columns: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> None:
        title(key)
        writer.writerow([en_h if en else zh_h for _, zh_h, en_h in columns])
        for row in rows:
            writer.writerow([_cell(row, column, lang) for column, _, _ in columns])
        writer.writerow([])

    heading = "Callwise daily report" if en else "Callwise 日报"
    writer.writerow([_safe(f"{heading} · {branch_name}".rstrip(" ·")), report["date"], report["timezone"],
                     ("complete" if en else "全天") if report["period"]["complete"]
                     else (f"until {report['period']['end']}" if en else f"截至 {report['period']['end']}")])
    writer.writerow([])
    title("summary")
    writer.writerow(["Figure" if en else "指标", "Value" if en else "数值"])
    for key, zh_h, en_h in SUMMARY_ROWS:
        writer.writerow([en_h if en else zh_h, _cell(report["headline"], key, lang)])
    writer.writerow([])
    table("services", SERVICE_COLUMNS, report["services"])

    title("hours")
    per_hour = report["tickets_per_hour"]
    codes = list(per_hour["services"])
    writer.writerow(["Hour" if en else "时段", *codes, "Total" if en else "合计"])
    for i, hour in enumerate(per_hour["hours"]):
        writer.writerow([f"{hour:02d}:00", *(per_hour["services"][code][i] for code in codes), per_hour["total"][i]])
    writer.writerow([])

    table("tellers", TELLER_COLUMNS, report["tellers"])
    table("counters", COUNTER_COLUMNS, report["counters"])
    table("pauses", PAUSE_COLUMNS, report["pauses"])
    table("alerts", ALERT_COLUMNS, report["alerts"])
    table("ratings", RATING_COLUMNS, report.get("ratings", {}).get("comments", []))
    return out.getvalue()


def ratings_csv(report: dict[str, Any], lang: str = "zh") -> str:
    """The day's ratings with their comments alone, as one table (header row, data rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([en_h if lang == "en" else zh_h for _, zh_h, en_h in RATING_COLUMNS])
    for row in report.get("ratings", {}).get("comments", []):
        writer.writerow([_cell(row, column, lang) for column, _, _ in RATING_COLUMNS])
    return out.getvalue()


def _cell(row: dict[str, Any], column: str, lang: str) -> Any:
    percent = column.endswith("%")
    value: Any = row
    for part in column.rstrip("%").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if percent:
        return round(value * 100, 1)
    if column == "name" and isinstance(value, dict):
        value = value.get(lang) or next(iter(value.values()), "")
    words = LABELLED_CELLS.get(column)
    if words is not None and isinstance(value, str) and value in words:
        value = words.label(value)[lang]
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return _safe(value) if isinstance(value, str) else value


def _safe(text: str) -> str:
    """Text that a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
