"""Reads that build what screens and the API show: tickets with their live position and estimate,
counters with their staff and current customer, queues, recent calls. Each function takes an open
session and returns plain data in the shapes of API.md; none of them writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from server.config import Config
from server.models import Counter, Event, Service, Staff, Ticket
from server.queueing import policy
from server.queueing.catalog import (
    ServiceRow,
    branch_row,
    counter_services,
    service_row,
    services_by_code,
    services_by_id,
)
from server.queueing.figures import BranchLoad, branch_load, finished_since_day_start, normal_service_times
from server.queueing.hours import hours_now
from server.queueing.machine import TicketStatus
from server.queueing.views import counter_view, service_view, ticket_view
from server.rooms import HEARTBEAT_FAMILIES, Audience

ACTIVE_TICKET = (TicketStatus.CALLED.value, TicketStatus.SERVING.value)
IN_LINE = (TicketStatus.WAITING.value, TicketStatus.HELD.value)  # promised a call, not yet served


def queue_lane(priority_ok: Any = None) -> Any:
    """:func:`server.queueing.policy.lane` in SQL. ``priority_ok``: a condition that lets the
    priority lane go first (call-next's share limit); by default it always does."""
    front = or_(Ticket.returned_at.isnot(None), Ticket.directed_counter_id.isnot(None))
    priority = Ticket.priority.is_(True) if priority_ok is None else and_(Ticket.priority.is_(True), priority_ok)
    return case((front, policy.FRONT), (priority, policy.PRIORITY), else_=policy.NORMAL)


def queue_time() -> Any:
    """The time that orders a ticket within its lane (:class:`server.queueing.policy.Waiting`)."""
    return case((Ticket.returned_at.isnot(None), Ticket.returned_at),
                (Ticket.directed_counter_id.isnot(None), Ticket.waiting_since), else_=Ticket.issued_at)


def queue_time_of(ticket: Ticket) -> datetime:
    """:func:`queue_time` of one row."""
    return ticket.returned_at or (ticket.waiting_since if ticket.directed_counter_id is not None else ticket.issued_at)


def waiting_of(ticket: Ticket) -> policy.Waiting:
    """A ticket row as the call order sees it."""
    return policy.Waiting(ticket.id, ticket.service_id, queue_time_of(ticket).timestamp(),
                          policy.lane(priority=bool(ticket.priority), returned=ticket.returned_at is not None,
                                      directed=ticket.directed_counter_id is not None),
                          ticket.directed_counter_id)


def capacity(load: BranchLoad, service_id: int, now: datetime, closes_at: datetime | None) -> dict[str, Any]:
    """What a new customer of the service would be told: the wait (none when no staffed counter
    serves it), how many staffed counters do, and whether they would be called before closing."""
    position = load.waiting.get(service_id, 0) + 1
    return {"estimated_wait_s": load.promise(service_id, position), "staffed_counters": load.staffed(service_id),
            "fits_before_close": load.fits_before_close(service_id, position, now, closes_at)}


def closing_at(config: Config, now: datetime) -> datetime | None:
    """Today's closing while the branch serves customers; None otherwise."""
    state = hours_now(config.hours, now)
    return state.closes_at if state.serving else None


def queue_summary(session: Session, config: Config, branch_id: int, now: datetime,
                  load: BranchLoad | None = None) -> list[dict[str, Any]]:
    """``[{"code", "waiting", "estimated_wait_s", "staffed_counters", "fits_before_close"}]`` for every
    active service: the queue_changed payload (from ``load`` when the caller already knows it)."""
    load = load or branch_load(session, config, branch_id, now)
    closes_at = closing_at(config, now)
    return [
        {"code": service.code, "waiting": load.waiting.get(service.id, 0), **capacity(load, service.id, now, closes_at)}
        for service in services_by_code(session, branch_id).values()
    ]


def services_with_estimates(session: Session, config: Config, branch_id: int, now: datetime) -> list[dict[str, Any]]:
    """Every active service with its waiting count, the wait a new ticket would get, and its normal
    service time today (what the service_overrun alert measures against)."""
    load = branch_load(session, config, branch_id, now)
    services = services_by_code(session, branch_id).values()
    normal = normal_service_times(config, finished_since_day_start(session, config, branch_id, now), services)
    closes_at = closing_at(config, now)
    views = []
    for service in services:
        told = capacity(load, service.id, now, closes_at)
        view = service_view(service, load.waiting.get(service.id, 0), told["estimated_wait_s"])
        view.update(told)
        view["normal_service_s"] = round(normal[service.id])
        views.append(view)
    return views


def position_of(session: Session, ticket: Ticket) -> int:
    """1 = the next of its service to be called (in the order of :func:`server.queueing.policy.queue_key`);
    0 once it is no longer waiting."""
    if ticket.status != TicketStatus.WAITING.value:
        return 0
    me, mine = waiting_of(ticket), queue_time_of(ticket)
    lane, at = queue_lane(), queue_time()
    ahead = session.scalar(
        select(func.count()).where(
            Ticket.branch_id == ticket.branch_id,
            Ticket.status == TicketStatus.WAITING.value,
            Ticket.service_id == ticket.service_id,
            or_(lane < me.lane, and_(lane == me.lane, at < mine),
                and_(lane == me.lane, at == mine, Ticket.id < ticket.id)),
        )
    )
    return int(ahead or 0) + 1


def ticket_with_live_estimate(
    session: Session, config: Config, ticket: Ticket, now: datetime, *, for_holder: bool
) -> dict[str, Any]:
    """A ticket view with its live position and estimate."""
    service = service_row(session, ticket.branch_id, ticket.service_id)
    counter = session.get(Counter, ticket.counter_id) if ticket.counter_id is not None else None
    directed = session.get(Counter, ticket.directed_counter_id) if ticket.directed_counter_id is not None else None
    position = position_of(session, ticket)
    eta: int | None = 0
    if position:
        load = branch_load(session, config, ticket.branch_id, now)
        eta = load.promise(ticket.service_id, position)
    help_requested = bool(
        counter is not None and counter.help_requested_at is not None and ticket.status in ACTIVE_TICKET
    )
    help_state = None
    if help_requested and counter is not None:
        help_state = "on_my_way" if counter.help_responded_at is not None else "waiting"
    view = ticket_view(
        ticket,
        service_code=service.code,
        counter_number=counter.number if counter is not None else None,
        position=position,
        estimated_wait_s=eta,
        help_requested=help_requested,
        help_state=help_state,
        public_url=config.server.public_url if for_holder else None,
        directed_counter=directed.number if directed is not None else None,
    )
    if for_holder:
        view.update(holder_details(session, ticket, service))
    return view


def holder_details(session: Session, ticket: Ticket, service: Service | ServiceRow) -> dict[str, Any]:
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
    ticket: Ticket | None = session.scalar(_counter_statements().active, {"counter_id": counter_id})
    return ticket


_UNKNOWN: Any = object()


def undo_view(session: Session, config: Config, counter: Counter) -> dict[str, Any] | None:
    """What the counter's undo would undo (its last complete or no-show, while nothing else has
    happened there) and until when; None when there is nothing."""
    if counter.undo_ticket_id is None or counter.undo_at is None or counter.undo_action is None:
        return None
    number = session.scalar(select(Ticket.number).where(Ticket.id == counter.undo_ticket_id))
    until = counter.undo_at + timedelta(seconds=config.queue.undo_window_s)
    return {"action": counter.undo_action, "ticket": {"id": counter.undo_ticket_id, "number": number},
            "until": until.isoformat()}


def counter_view_of(session: Session, config: Config, counter: Counter,
                    current: Ticket | None = _UNKNOWN) -> dict[str, Any]:
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
        no_show_grace_s=config.queue.no_show_grace_s,
        undo=undo_view(session, config, counter),
    )


def counter_views(session: Session, config: Config, branch_id: int, number: int | None = None) -> list[dict[str, Any]]:
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
                no_show_grace_s=config.queue.no_show_grace_s,
                undo=undo_view(session, config, counter),
            )
        )
    return views


def waiting_tickets(session: Session, config: Config, branch_id: int, now: datetime) -> list[dict[str, Any]]:
    """Per service, its waiting tickets in call order (:func:`server.queueing.policy.queue_key`) with
    positions and estimates, then the tickets held at a counter (the staff's waiting list): each
    with how long it has waited, how many were ahead at issue, whether it is at risk (the test of
    :func:`server.queueing.policy.at_risk`), the counter that holds it or that it was sent to, and
    the note for the next teller."""
    load = branch_load(session, config, branch_id, now)
    numbers = {counter_id: number for counter_id, number
               in session.execute(select(Counter.id, Counter.number).where(Counter.branch_id == branch_id)).all()}
    rows = list(session.scalars(
        select(Ticket)
        .where(Ticket.branch_id == branch_id, Ticket.status.in_(IN_LINE))
        .order_by(case((Ticket.status == TicketStatus.HELD.value, 1), else_=0), queue_lane(), queue_time(), Ticket.id)
    ))
    by_service: dict[int, list[Ticket]] = {}
    for ticket in rows:
        by_service.setdefault(ticket.service_id, []).append(ticket)
    risk = config.alerts
    out = []
    for service in services_by_code(session, branch_id).values():
        views = []
        position = 0
        for ticket in by_service.get(service.id, []):
            waiting = ticket.status == TicketStatus.WAITING.value
            position += waiting
            waited = (now - ticket.issued_at).total_seconds()
            view = ticket_view(
                ticket,
                service_code=service.code,
                counter_number=numbers.get(ticket.counter_id) if ticket.counter_id is not None else None,
                position=position if waiting else 0,
                estimated_wait_s=load.promise(service.id, position) if waiting else None,
                directed_counter=numbers.get(ticket.directed_counter_id) if ticket.directed_counter_id else None,
            )
            view.update(
                waited_s=int(waited),
                people_ahead_at_issue=ticket.people_ahead,
                at_risk=waiting and policy.at_risk(ticket.people_ahead, waited, max_ahead=risk.short_queue_max_ahead,
                                                   after_s=config.queue.at_risk_after_s,
                                                   line_s=risk.short_queue_complaint_s),
                held=not waiting,
                note=ticket.note,
            )
            views.append(view)
        waiting_count = load.waiting.get(service.id, 0)
        out.append(
            {
                "code": service.code,
                "name": service.name,
                "waiting": waiting_count,
                "held": len(views) - position,
                "estimated_wait_s": load.promise(service.id, waiting_count + 1),
                "staffed_counters": load.staffed(service.id),
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
            "priority": bool(ticket.priority),
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


@cache
def _at_risk_statement() -> Any:
    return (select(Ticket.service_id).distinct()
            .where(Ticket.branch_id == bindparam("branch_id"), Ticket.status == TicketStatus.WAITING.value,
                   Ticket.people_ahead <= bindparam("max_ahead"),
                   Ticket.issued_at <= bindparam("waited_since", type_=Ticket.issued_at.type),
                   Ticket.issued_at > bindparam("line_since", type_=Ticket.issued_at.type)))


def at_risk_service_ids(session: Session, config: Config, branch_id: int, now: datetime) -> set[int]:
    """Services with a waiting ticket :func:`server.queueing.policy.at_risk` says is at risk (the
    same test, in SQL: issued at least ``queue.at_risk_after_s`` and less than the complaint line
    ago, with at most ``short_queue_max_ahead`` ahead at issue)."""
    rows = session.execute(_at_risk_statement(), {
        "branch_id": branch_id, "max_ahead": config.alerts.short_queue_max_ahead,
        "waited_since": now - timedelta(seconds=config.queue.at_risk_after_s),
        "line_since": now - timedelta(seconds=config.alerts.short_queue_complaint_s),
    })
    return set(rows.scalars())


def _heard_by(family: Audience) -> Any:
    """Events the ``family`` of screens heard (events from before audiences were kept: all)."""
    return or_(Event.audiences.is_(None), Event.audiences.op("&")(int(family)) != 0)


@cache
def _audience_statements() -> SimpleNamespace:
    families = list(HEARTBEAT_FAMILIES)
    return SimpleNamespace(
        families=families,
        newest=select(func.max(Event.id)),
        one={family: select(Event.id).where(Event.branch_id == bindparam("branch_id"), _heard_by(family))
             .order_by(Event.id.desc()).limit(1) for family in families},
        above=select(Event.branch_id, *[func.max(case((_heard_by(family), Event.id))) for family in families])
        .where(Event.id > bindparam("floor")).group_by(Event.branch_id),
        holders=select(Ticket.branch_id, Ticket.id, Ticket.version).where(Ticket.version > bindparam("floor")),
    )


def newest_event_id(session: Session) -> int:
    """The newest event id of the whole log (0 before the first)."""
    return int(session.connection().execute(_audience_statements().newest).scalar() or 0)


def audience_versions(session: Session, branch_id: int) -> dict[Audience, int]:
    """Where the branch's event log stands for each family of screens: the newest event whose change
    that family heard (0 if none)."""
    q = _audience_statements()
    db = session.connection()
    return {family: int(db.execute(q.one[family], {"branch_id": branch_id}).scalar() or 0) for family in q.families}


def audience_versions_above(session: Session, floor: int) -> dict[int, dict[Audience, int]]:
    """:func:`audience_versions` of every branch, counting only events above ``floor`` (one query;
    a branch or family with none above it is absent)."""
    q = _audience_statements()
    out: dict[int, dict[Audience, int]] = {}
    for branch_id, *newest in session.connection().execute(q.above, {"floor": floor}).all():
        out[branch_id] = {family: int(v) for family, v in zip(q.families, newest, strict=True) if v is not None}
    return out


def holder_versions_above(session: Session, floor: int) -> list[tuple[int, int, int]]:
    """``(branch id, ticket id, version)`` of the tickets whose own phone page alone heard a change
    newer than ``floor``."""
    rows = session.connection().execute(_audience_statements().holders, {"floor": floor}).all()
    return [(branch_id, ticket_id, int(version)) for branch_id, ticket_id, version in rows]
