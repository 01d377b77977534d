"""Loading one business day of a branch for the daily report: the rows server/reports.py computes
its figures from, read in one read transaction (the API serves the answer, server/api/reports.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.alerts.rules import registry
from server.models import Alert, Branch, Counter, CounterService, Event, Instruction, Service, Staff, Ticket
from server.reports import (
    AlertRow,
    CounterRow,
    CounterStart,
    EventRow,
    InstructionRow,
    ReportDay,
    ServiceRow,
    StaffRow,
    TicketRow,
    daily_report,
)
from server.runtime import Runtime
from server.simulator.incidents import subject_of


def load_daily_report(rt: Runtime, branch_id: int, requested: date | None) -> dict[str, Any]:
    """Read the rows of ``branch_id``'s day ``requested`` (default: today in its time zone) in one
    read transaction and compute the report."""
    now = rt.clock.now()
    config = rt.config_for(branch_id)
    with rt.reading() as session:
        branch = session.get(Branch, branch_id)
        assert branch is not None
        tz = ZoneInfo(branch.timezone)
        day = ReportDay(
            date=requested or now.astimezone(tz).date(),
            tz=tz,
            now=now,
            opening=config.branch.opening_time,
            closing=config.branch.closing_time,
        )
        rows = _load_rows(session, branch_id, day)
    report = daily_report(
        day,
        **rows,
        rules=sorted(registry()),
        default_target_s=config.alerts.service_level_default_target_s,
    )
    report["branch"] = {"code": branch.code, "name": branch.name}
    return report


def _load_rows(session: Session, branch_id: int, day: ReportDay) -> dict[str, Any]:
    start, end = day.start, day.end
    db = session.connection()
    services = db.execute(
        select(Service.id, Service.code, Service.name, Service.target_wait_s, Service.active,
               Service.expected_minutes)
        .where(Service.branch_id == branch_id)
        .order_by(Service.position, Service.id)
    ).all()
    code_of = {row.id: row.code for row in services}
    counter_numbers: dict[int, int] = {
        counter_id: number
        for counter_id, number in db.execute(select(Counter.id, Counter.number).where(Counter.branch_id == branch_id))}

    ticket_rows = db.execute(
        select(Ticket.id, Ticket.number, Ticket.service_id, Ticket.original_service_id, Ticket.status,
               Ticket.issued_at, Ticket.called_at, Ticket.served_at, Ticket.finished_at,
               Ticket.served_by_staff_id, Ticket.outcome, Ticket.rating, Ticket.estimated_wait_s,
               Ticket.raw_estimate_s, Ticket.fits_before_close, Ticket.cancel_reason, Ticket.late_warned_at,
               Ticket.priority, Ticket.rating_comment, Ticket.rated_at, Ticket.counter_id, Ticket.people_ahead)
        .where(Ticket.branch_id == branch_id, Ticket.business_day == day.date)
        .order_by(Ticket.id)
    ).all()
    # The columns' own types apply to Core rows too: every time comes back as an aware UTC datetime.
    tickets = [
        TicketRow(t.id, t.number, code_of[t.service_id], code_of[t.original_service_id], t.status,
                  t.issued_at, t.called_at, t.served_at, t.finished_at,
                  t.served_by_staff_id, t.outcome, t.rating, t.estimated_wait_s, t.raw_estimate_s,
                  t.fits_before_close, t.cancel_reason, t.late_warned_at, bool(t.priority), t.rating_comment,
                  t.rated_at, counter_numbers.get(t.counter_id), t.people_ahead)
        for t in ticket_rows
    ]
    used = {t.service for t in tickets} | {t.issued_service for t in tickets}
    service_rows = [
        ServiceRow(s.code, s.name, s.target_wait_s or 0, s.expected_minutes * 60)
        for s in services if s.active or s.code in used
    ]

    events = [
        EventRow(e.at, e.entity, e.entity_id, e.action, e.from_state, e.to_state, e.staff_id, e.data)
        for e in db.execute(
            select(Event.at, Event.entity, Event.entity_id, Event.action, Event.from_state, Event.to_state,
                   Event.staff_id, Event.data)
            .where(Event.branch_id == branch_id, Event.at >= start, Event.at < end,
                   Event.entity.in_(("ticket", "counter")))
            .order_by(Event.id)
        ).all()
    ]
    counter_ids_today = {e.entity_id for e in events if e.entity == "counter"}

    counter_list = db.execute(
        select(Counter.id, Counter.number, Counter.active)
        .where(Counter.branch_id == branch_id)
        .order_by(Counter.number)
    ).all()
    lists: dict[int, list[str]] = {}
    for counter_id, service_id in db.execute(
        select(CounterService.counter_id, CounterService.service_id)
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(Counter.branch_id == branch_id)
        .order_by(CounterService.counter_id, CounterService.rank)
    ).all():
        lists.setdefault(counter_id, []).append(code_of[service_id])
    counters = [
        CounterRow(c.id, c.number, tuple(lists.get(c.id, ())))
        for c in counter_list if c.active or c.id in counter_ids_today
    ]

    counters_at_start = _counters_at(session, branch_id, start)
    # The cards the manager acted on: an instruction names the card it answers.
    acted = set(db.scalars(select(Instruction.alert_id).join(Alert, Alert.id == Instruction.alert_id).where(
        Alert.branch_id == branch_id, Alert.raised_at >= start, Alert.raised_at < end)))
    alerts = [
        AlertRow(a.rule, a.severity, a.raised_at, a.acknowledged_at, a.resolved_at, a.lead_time_s,
                 subject_of(a.subject_kind, a.subject_id), a.ticket_id,
                 counter_numbers.get(a.counter_id) if a.counter_id is not None else None, a.id in acted,
                 _told(a.data))
        for a in db.execute(
            select(Alert.id, Alert.rule, Alert.severity, Alert.raised_at, Alert.acknowledged_at, Alert.resolved_at,
                   Alert.lead_time_s, Alert.subject_kind, Alert.subject_id, Alert.ticket_id, Alert.counter_id,
                   Alert.data)
            .where(Alert.branch_id == branch_id, Alert.raised_at >= start, Alert.raised_at < end)
            .order_by(Alert.raised_at, Alert.id)
        ).all()
    ]

    instructions = [
        InstructionRow(*row) for row in db.execute(
            select(Instruction.kind, Instruction.teller_id, Instruction.issued_at, Instruction.answer,
                   Instruction.answered_at)
            .where(Instruction.branch_id == branch_id, Instruction.issued_at >= start, Instruction.issued_at < end)
            .order_by(Instruction.issued_at, Instruction.id)
        ).all()
    ]
    staff_ids = (
        {t.staff_id for t in tickets if t.staff_id is not None}
        | {e.staff_id for e in events if e.entity == "counter" and e.staff_id is not None}
        | {s.staff_id for s in counters_at_start.values() if s.staff_id is not None}
        | {i.teller_id for i in instructions if i.teller_id is not None}
    )
    staff = [
        StaffRow(s.id, s.username, s.display_name)
        for s in db.execute(select(Staff.id, Staff.username, Staff.display_name).where(Staff.id.in_(staff_ids)))
    ] if staff_ids else []
    return {
        "services": service_rows,
        "counters": counters,
        "staff": staff,
        "tickets": tickets,
        "events": events,
        "alerts": alerts,
        "counters_at_start": counters_at_start,
        "instructions": instructions,
    }


def _told(data: dict[str, Any] | None) -> tuple[tuple[str, str, datetime], ...]:
    """The stories a card took in (server/alerts/engine.py ``_alert_data``), as (rule, subject, first shown)."""
    return tuple((rule, subject_of(kind, ident), datetime.fromisoformat(at))
                 for rule, kind, ident, at in (data or {}).get("told", ()))


def _counters_at(session: Session, branch_id: int, moment: Any) -> dict[int, CounterStart]:
    """Each counter as its last event before ``moment`` left it: state, who had opened it, and the
    reason of a pause still running. Counters with no history are closed."""
    db = session.connection()
    before = (Event.branch_id == branch_id, Event.entity == "counter", Event.at < moment)
    latest = (
        select(Event.entity_id, func.max(Event.id).label("id"))
        .where(*before)
        .group_by(Event.entity_id)
        .subquery()
    )
    last = {
        row.entity_id: row
        for row in db.execute(
            select(Event.entity_id, Event.action, Event.to_state, Event.staff_id, Event.data)
            .join(latest, latest.c.id == Event.id)
        ).all()
    }
    openings = (
        select(Event.entity_id, func.max(Event.id).label("id"))
        .where(*before, Event.action == "open")
        .group_by(Event.entity_id)
        .subquery()
    )
    opened_by = dict(db.execute(
        select(Event.entity_id, Event.staff_id).join(openings, openings.c.id == Event.id)).all())
    pauses = (
        select(Event.entity_id, func.max(Event.id).label("id"))
        .where(*before, Event.action == "pause")
        .group_by(Event.entity_id)
        .subquery()
    )
    reasons = {
        entity_id: (data or {}).get("reason")
        for entity_id, data in db.execute(select(Event.entity_id, Event.data).join(pauses, pauses.c.id == Event.id))
    }
    out = {}
    for counter_id, row in last.items():
        if row.to_state == "closed":
            continue
        out[counter_id] = CounterStart(
            state=row.to_state,
            staff_id=opened_by.get(counter_id),
            pause_reason=reasons.get(counter_id) if row.to_state == "paused" else None,
        )
    return out

