"""Turning the conditions the rules find into stored alerts, and announcing what changed.

Lifecycle: a new condition raises an alert; a condition that grows more severe escalates it
(warning -> critical, never back); a condition that is gone resolves it. History is kept. An
unacknowledged critical alert is announced again every ``renotify_critical_s``; acknowledging
silences that without resolving anything (except ``help_requested``, which an acknowledgement
answers). The database refuses a second open alert for the same rule and subject, so two
processes evaluating at once cannot duplicate one: the loser retries and finds it.

When: after every committed change (event-driven), on a periodic sweep every ``tick_s`` for what
time alone makes true, and synchronously when a manual clock is advanced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from server.actors import Actor
from server.alerts.loader import (
    MARK_FLOOR_SPAN,
    StateMark,
    history_loader,
    load_snapshot,
    newest_event_id,
    state_mark,
    state_marks,
)
from server.alerts.rules import SEVERITY_RANK, Condition, evaluate_rules
from server.alerts.snapshot import BranchSnapshot
from server.errors import Conflict, NotFound
from server.models import Alert, Counter, Staff
from server.queueing.counters import answer_help, help_on_the_way
from server.queueing.hours import hours_now
from server.queueing.numbering import day_start_utc
from server.queueing.views import iso
from server.rooms import Audience
from server.runtime import Runtime, UnitOfWork

log = logging.getLogger(__name__)

COALESCE_S = 0.2

def alert_view(alert: Alert, *, counter_number: int | None, acknowledged_by: str | None,
               languages: list[str] | tuple[str, ...] = ("zh", "en"), reminder: bool = False) -> dict[str, Any]:
    """An alert in the shape of API.md, with the message in every language of the branch."""
    subject_id: Any = alert.subject_id
    if alert.subject_kind in ("counter", "ticket"):
        subject_id = int(alert.subject_id)
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity,
        "subject": {"kind": alert.subject_kind, "id": subject_id, "label": (alert.data or {}).get("label", "")},
        "message": alert.message.get(languages[0]) or next(iter(alert.message.values()), ""),
        "messages": alert.message,
        "raised_at": iso(alert.raised_at),
        "escalated_at": iso(alert.escalated_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by": acknowledged_by,
        "resolved_at": iso(alert.resolved_at),
        "counter": counter_number,
        "lead_time_s": alert.lead_time_s,
        "data": {k: v for k, v in (alert.data or {}).items() if k not in ("label", "action", "told")},
        "action": (alert.data or {}).get("action"),
        "reminder": reminder,
    }


@cache
def _open_alerts_statement(all_branches: bool = False) -> Any:
    """A branch's open alerts (or every branch's) as plain rows, built once."""
    query = (select(Alert.id, Alert.branch_id, Alert.rule, Alert.subject_kind, Alert.subject_id, Alert.severity,
                    Alert.acknowledged_at, Alert.last_notified_at, Alert.data)
             .where(Alert.resolved_at.is_(None)))
    return query if all_branches else query.where(Alert.branch_id == bindparam("branch_id"))


@cache
def _recent_statement() -> Any:
    """Alerts of every branch resolved since a moment (the hold-off), as plain rows, built once."""
    return (select(Alert.branch_id, Alert.rule, Alert.subject_kind, Alert.subject_id, Alert.resolved_at)
            .where(Alert.resolved_at >= bindparam("since", type_=Alert.resolved_at.type)))


def _recently_resolved(session: Session, since: datetime, branch_id: int) -> set[tuple[str, str, str]]:
    """The keys of the branch's alerts resolved since ``since``."""
    return {(row.rule, row.subject_kind, row.subject_id)
            for row in session.connection().execute(_recent_statement(), {"since": since}).all()
            if row.branch_id == branch_id}


class AlertEngine:
    """Evaluates the rules for a branch and reconciles the result with the stored alerts."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.background = False
        self._dirty: set[int] = set()
        self._wake: threading.Event | None = None
        self._stopped = False
        self.sweeps = 0
        # Called before each sweep; returning False skips it: one process sweeps at a time
        # (server/leader.py). ``sweeping`` says whether this process did at its last tick.
        self.may_sweep: Callable[[], bool] = lambda: True
        self.sweeping = False
        # Housekeeping that only the sweeping process runs after its sweep (day rollover, retention).
        self.sweeper_tasks: list[Callable[[], None]] = []
        # The last snapshot read per branch, with the event-log mark it was read at (see _snapshot),
        # and the floor marks are counted from (see _marks).
        self._snapshots: dict[int, tuple[StateMark, BranchSnapshot]] = {}
        self._floor: int | None = None
        # Called between branches of a sweep: in a server, a yield to the other greenlets.
        self.pause: Callable[[], Any] = lambda: None

    # --- when to evaluate ------------------------------------------------------------------------

    def on_change(self, branch_id: int) -> None:
        """A change was committed in ``branch_id``. In a running server the evaluation is handed to
        the background task (coalescing bursts); without one (tests, CLI) it runs here and now."""
        if self.background and self._wake is not None:
            self._dirty.add(branch_id)
            self._wake.set()
        else:
            self.evaluate(branch_id)

    def on_time(self, _now: datetime) -> None:
        """A manual clock moved: evaluate every branch before the caller gets its answer."""
        self.sweep()

    def sweep(self) -> None:
        """Evaluate every branch. One read transaction plans them all — every branch's event-log mark
        and open alerts in one query each, a branch that has not changed since the last read is not
        read again — and only the branches with something to raise, escalate, remind or resolve are
        written. In a server the task yields between branches, so requests and sockets are served
        during a sweep of many branches."""
        ids = self.branch_ids()
        now = self.rt.clock.now()
        with self.rt.reading() as session:
            floor, marks = self._marks(session)
            open_rows: dict[int, dict[tuple[str, str, str], Any]] = {}
            for row in session.connection().execute(_open_alerts_statement(all_branches=True)).all():
                open_rows.setdefault(row.branch_id, {})[(row.rule, row.subject_kind, row.subject_id)] = row
            holdoff = max(self.rt.config_for(b).alerts.reopen_holdoff_s for b in ids) if ids else 0
            recent: dict[int, set[tuple[str, str, str]]] = {}
            for row in session.connection().execute(_recent_statement(),
                                                    {"since": now - timedelta(seconds=holdoff)}).all():
                own = self.rt.config_for(row.branch_id).alerts.reopen_holdoff_s
                if row.resolved_at >= now - timedelta(seconds=own):
                    recent.setdefault(row.branch_id, set()).add((row.rule, row.subject_kind, row.subject_id))
            changing = []
            for branch_id in ids:
                mark = marks.get(branch_id) or StateMark(floor, 0, floor)
                if self._plan(session, branch_id, now, mark=mark, open_rows=open_rows.get(branch_id, {}),
                              recent=recent.get(branch_id, set())):
                    changing.append(branch_id)
                self.pause()
        for branch_id in changing:
            self.evaluate(branch_id, planned=True)
            self.pause()
        self.sweeps += 1

    def _marks(self, session: Session) -> tuple[int, dict[int, StateMark]]:
        """Every branch's mark, counted from one floor. The floor is kept while the log grows by up to
        a few spans, so marks read in different sweeps (and by single-branch evaluations) compare."""
        if self._floor is not None:
            marks = state_marks(session, self._floor)
            # Nothing above the floor: an idle log, or one cut below it (a restore); ask which.
            newest = max((mark.newest for mark in marks.values()), default=None)
            if newest is None:
                newest = newest_event_id(session)
            if self._floor <= newest <= self._floor + 4 * MARK_FLOOR_SPAN:
                return self._floor, marks
        self._floor = max(0, newest_event_id(session) - MARK_FLOOR_SPAN)
        return self._floor, state_marks(session, self._floor)

    def branch_ids(self) -> list[int]:
        """The branches this process serves: those of its config, synced at start-up."""
        return sorted(self.rt.branch_ids.values())

    def start_background(self, start_task: Callable[..., Any], sleep: Callable[[float], Any]) -> None:
        """Run the sweep and the event-driven evaluations in one background task of this process."""
        self.background = True
        self._wake = threading.Event()
        self.pause = lambda: sleep(0)
        start_task(self._loop, sleep)

    def stop(self) -> None:
        self._stopped = True
        if self._wake is not None:
            self._wake.set()

    def _loop(self, sleep: Callable[[float], Any]) -> None:
        tick = self.rt.config.alerts.tick_s
        next_sweep = time.monotonic()
        assert self._wake is not None
        while not self._stopped:
            woken = self._wake.wait(timeout=max(0.0, next_sweep - time.monotonic()))
            if woken:
                # Let a burst of changes (tellers pressing at once, a kiosk queue) settle into one
                # evaluation: a fraction of a second changes nothing for a warning, a lot for load.
                sleep(COALESCE_S)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + tick
                    self.sweeping = self.may_sweep()
                    if self.sweeping:
                        self.sweep()
                        for task in self.sweeper_tasks:
                            task()
                        continue
                for branch_id in dirty:
                    self.evaluate(branch_id)
            except OperationalError as exc:  # database away: keep trying, say so once per tick
                log.warning("alert evaluation skipped, database unavailable: %s", exc.orig)
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad evaluation
                log.exception("alert evaluation failed")
            sleep(0)

    # --- what to do ------------------------------------------------------------------------------

    def evaluate(self, branch_id: int, *, planned: bool = False) -> int:
        """Evaluate every rule for the branch now; returns how many alerts changed. ``planned``: a
        read just found something to change here (the sweep's), so go straight to the write."""
        for attempt in range(3):
            try:
                return self._evaluate_once(branch_id, planned)
            except IntegrityError:
                # Another process raised the same alert between our read and our insert: re-read.
                if attempt == 2:
                    raise
        return 0

    def _evaluate_once(self, branch_id: int, planned: bool = False) -> int:
        """Plan in a read transaction; write only if something changes. Most sweeps change nothing,
        and then they never take the database's write lock. When something does change, the plan
        is made again inside the write transaction, so it is applied to the state it was made on."""
        now = self.rt.clock.now()
        if not planned:
            with self.rt.reading() as session:
                if not self._plan(session, branch_id, now):
                    return 0
        with self.rt.uow(background=True) as uow:
            plan = self._plan(uow.session, branch_id, now)
            if not plan:
                return 0
            changed = [(step[0], self._apply(uow.session, branch_id, now, step), step[2]) for step in plan]
            uow.session.flush()  # the partial unique index speaks here if another process won
            for event, alert, reminder in changed:
                self._emit(uow, uow.session, alert, event, reminder=reminder)
            uow.commit()
            return len(changed)

    def _plan(self, session: Session, branch_id: int, now: datetime, *, mark: StateMark | None = None,
              open_rows: dict[tuple[str, str, str], Any] | None = None,
              recent: set[tuple[str, str, str]] | None = None) -> list[tuple[str, Any, bool]]:
        """What to raise, escalate, re-announce and resolve: ``(event, condition or open-alert row,
        reminder)`` steps. ``mark``, ``open_rows`` and ``recent`` (the keys of alerts resolved within
        the hold-off): the branch's, when a sweep read them for all."""
        config = self.rt.config_for(branch_id)
        settings = config.alerts
        # The open alerts as plain rows; only the ones that change are loaded as objects.
        open_alerts = dict(open_rows) if open_rows is not None else {
            (row.rule, row.subject_kind, row.subject_id): row
            for row in session.connection().execute(_open_alerts_statement(), {"branch_id": branch_id}).all()
        }
        snapshot = self._snapshot(session, config, branch_id, now, mark, open_keys=frozenset(open_alerts))
        conditions = evaluate_rules(snapshot, settings)
        if recent is None:
            recent = _recently_resolved(session, now - timedelta(seconds=settings.reopen_holdoff_s), branch_id)
        plan: list[tuple[str, Any, bool]] = []
        for condition in conditions:
            row = open_alerts.pop(condition.key, None)
            if row is None:
                # A warning does not come back as a new card soon after its alert resolved: the
                # same story flickering across a threshold is one card, not several.
                if condition.severity == "critical" or condition.key not in recent:
                    plan.append(("alert_raised", condition, False))
            elif SEVERITY_RANK[condition.severity] > SEVERITY_RANK[row.severity]:
                plan.append(("alert_changed", (row, condition), False))
            elif (
                row.severity == "critical"
                and row.acknowledged_at is None
                and (now - row.last_notified_at).total_seconds() >= settings.renotify_critical_s
            ):
                plan.append(("alert_raised", (row, condition), True))
            elif _story(row.data or {}) != _story(_alert_data(condition, config.branch.languages, now)):
                # Who can act has changed (another counter came free), or the story has grown (another
                # customer at risk joined it): the card says so, in place.
                plan.append(("alert_changed", (row, condition), False))
        plan.extend(("alert_resolved", (row, None), False) for row in open_alerts.values())
        return plan

    def _snapshot(self, session: Session, config: Any, branch_id: int, now: datetime,
                  current: StateMark | None = None, *, open_keys: frozenset[tuple[str, str, str]] = frozenset()
                  ) -> BranchSnapshot:
        """The branch at ``now``. Most sweeps find the branch as the last one left it, only later:
        then the rules run on the snapshot already read, moved to ``now``, after one small query
        (the event log's mark, or ``current``, read by the sweep for every branch at once) instead
        of the whole read."""
        cached = self._snapshots.get(branch_id)
        if cached is not None:
            mark, snapshot = cached
            day_start = day_start_utc(now.astimezone(config.tz).date(), config.tz)
            if current is None or current.floor != mark.floor:
                current = state_mark(session, branch_id, mark.floor)
            if (current == mark and snapshot.day_start == day_start.timestamp()
                    and now.timestamp() >= snapshot.now):
                kept = snapshot.__dict__.get("history")
                return replace(snapshot, now=now.timestamp(), counter_history=kept or (), open_alert_keys=open_keys,
                               serving=hours_now(config.hours, now).serving,
                               load_history=None if kept is not None else history_loader(session, branch_id, day_start))
        if current is None or current.floor != self._floor:
            current = state_mark(session, branch_id, self._floor)
        mark = current  # read in this transaction, before the snapshot: a later change moves it on
        snapshot = load_snapshot(session, config, branch_id, now)
        self._snapshots[branch_id] = (mark, snapshot)
        return replace(snapshot, open_alert_keys=open_keys) if open_keys else snapshot

    def _apply(self, session: Session, branch_id: int, now: datetime, step: tuple[str, Any, bool]) -> Alert:
        event, subject, reminder = step
        languages = self.rt.config_for(branch_id).branch.languages
        if isinstance(subject, Condition):
            alert = _new_alert(branch_id, subject, now, languages)
            session.add(alert)
            return alert
        row, condition = subject
        alert = session.get_one(Alert, row.id)
        if event == "alert_resolved":
            alert.resolved_at = now
        elif reminder:
            alert.last_notified_at = now
            alert.message = condition.message
            alert.data = _alert_data(condition, languages, now, alert.data)
        elif SEVERITY_RANK[condition.severity] > SEVERITY_RANK[alert.severity]:  # escalation
            alert.severity = condition.severity
            alert.escalated_at = now
            alert.message = condition.message
            alert.data = _alert_data(condition, languages, now, alert.data)
            alert.last_notified_at = now
        else:  # the same story, with another action
            alert.message = condition.message
            alert.data = _alert_data(condition, languages, now, alert.data)
        return alert

    def _emit(
        self, uow: UnitOfWork, session: Session, alert: Alert, event: str, *, reminder: bool = False
    ) -> dict[str, Any]:
        counter = session.get(Counter, alert.counter_id) if alert.counter_id is not None else None
        by = session.get(Staff, alert.acknowledged_by) if alert.acknowledged_by is not None else None
        view = alert_view(alert, counter_number=counter.number if counter else None,
                          acknowledged_by=by.username if by else None,
                          languages=self.rt.config_for(alert.branch_id).branch.languages, reminder=reminder)
        if counter is not None and counter.staff_id is not None:
            # The teller at the alert's counter hears it too, on their own connections.
            uow.tell(event, view, Audience.MANAGERS | Audience.PERSON, alert.branch_id, staff_id=counter.staff_id)
        else:
            uow.tell(event, view, Audience.MANAGERS, alert.branch_id)
        return view

    def acknowledge(self, actor: Actor, branch_id: int, alert_id: int) -> dict[str, Any]:
        """A manager has seen the alert: it stops being re-announced. It answers nothing: a help
        request stays open until the manager is on the way and then done (:meth:`respond`)."""
        with self._open_alert(branch_id, alert_id) as (uow, alert, now):
            self._seen(alert, actor, now)
            return self._answered(uow, alert, "alert_changed")

    def respond(self, actor: Actor, branch_id: int, alert_id: int, state: str) -> dict[str, Any]:
        """The manager's answer to a help request: ``on_my_way`` (the teller and the customer's phone
        hear someone is coming) or ``done`` (the request is over: the alert resolves). 409 for any
        other alert, or "on my way" twice."""
        with self._open_alert(branch_id, alert_id) as (uow, alert, now):
            if alert.rule != "help_requested" or alert.counter_id is None:
                raise Conflict("only a help request is answered this way", code="not_a_help_request")
            self._seen(alert, actor, now)
            if state == "on_my_way":
                if not help_on_the_way(uow, actor, alert.counter_id, now, alert.id):
                    raise Conflict("someone is already on the way", code="already_on_the_way")
                alert.data = {**(alert.data or {}), "help_state": "on_my_way", "responder": actor.name}
                return self._answered(uow, alert, "alert_changed")
            answer_help(uow, actor, alert.counter_id, now, alert.id)
            alert.resolved_at = now
            return self._answered(uow, alert, "alert_resolved")

    @contextmanager
    def _open_alert(self, branch_id: int, alert_id: int) -> Iterator[tuple[UnitOfWork, Alert, datetime]]:
        """A transaction with the branch's unresolved alert ``alert_id`` locked (404, 409 otherwise)."""
        now = self.rt.clock.now()
        with self.rt.uow() as uow:
            alert = uow.session.scalar(
                select(Alert).where(Alert.id == alert_id, Alert.branch_id == branch_id).with_for_update()
            )
            if alert is None:
                raise NotFound(f"there is no alert {alert_id} here", code="unknown_alert")
            if alert.resolved_at is not None:
                raise Conflict("the alert is already resolved", code="already_resolved")
            yield uow, alert, now

    @staticmethod
    def _seen(alert: Alert, actor: Actor, now: datetime) -> None:
        if alert.acknowledged_at is None:
            alert.acknowledged_at = now
            alert.acknowledged_by = actor.staff_id

    def _answered(self, uow: UnitOfWork, alert: Alert, event: str) -> dict[str, Any]:
        uow.session.flush()
        view = self._emit(uow, uow.session, alert, event)
        uow.commit()
        return view


def _action_of(condition: Condition, languages: Sequence[str]) -> dict[str, Any] | None:
    return condition.action.as_dict(tuple(languages)) if condition.action is not None else None


def _story(data: dict[str, Any]) -> tuple[Any, ...]:
    """What a card tells beyond its severity: its action and the parts joined to it."""
    return data.get("action"), tuple((part.get("rule"), part.get("subject")) for part in data.get("joined", ()))


def _alert_data(condition: Condition, languages: Sequence[str], now: datetime,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an alert keeps besides its columns: the rule's figures, how people name the subject,
    the action, and ``told``: every story the card has taken in (server/alerts/stories.py), as
    [rule, subject kind, subject id, first shown], so that the reports can tell, afterwards, which
    situations a card warned of and from when (server/incident_history.py)."""
    data = {**condition.data, "label": condition.label, "action": _action_of(condition, languages)}
    told = {(rule, kind, ident): at for rule, kind, ident, at in (previous or {}).get("told", ())}
    for part in condition.data.get("joined", ()):
        if part.get("subject_kind") is not None:
            told.setdefault((part["rule"], part["subject_kind"], str(part["subject_id"])), now.isoformat())
    if told:
        data["told"] = [[*key, at] for key, at in told.items()]
    return data


def _new_alert(branch_id: int, condition: Condition, now: datetime, languages: Sequence[str]) -> Alert:
    return Alert(
        branch_id=branch_id,
        rule=condition.rule,
        subject_kind=condition.subject_kind,
        subject_id=condition.subject_id,
        severity=condition.severity,
        message=condition.message,
        data=_alert_data(condition, languages, now),
        counter_id=condition.counter_id,
        ticket_id=condition.ticket_id,
        lead_time_s=condition.lead_time_s,
        raised_at=now,
        escalated_at=now if condition.severity == "critical" else None,
        last_notified_at=now,
    )


def list_alerts(rt: Runtime, branch_id: int, state: str, limit: int) -> list[dict[str, Any]]:
    """Open alerts (most severe, then oldest, first) or the latest ``limit`` of all."""
    with rt.reading() as session:
        query = select(Alert).where(Alert.branch_id == branch_id)
        if state == "open":
            query = query.where(Alert.resolved_at.is_(None))
        alerts = list(session.scalars(query.order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)))
        if state == "open":
            alerts.sort(key=lambda a: (-SEVERITY_RANK[a.severity], a.raised_at, a.id))
        return _views(session, rt, alerts)


def open_alerts_for(session: Session, rt: Runtime, branch_id: int, staff_id: int | None = None) -> list[dict[str, Any]]:
    """Open alerts of the branch; with ``staff_id``, only those of the counter that person holds."""
    query = select(Alert).where(Alert.branch_id == branch_id, Alert.resolved_at.is_(None))
    if staff_id is not None:
        query = query.join(Counter, Counter.id == Alert.counter_id).where(Counter.staff_id == staff_id)
    alerts = sorted(session.scalars(query), key=lambda a: (-SEVERITY_RANK[a.severity], a.raised_at, a.id))
    return _views(session, rt, alerts)


def _views(session: Session, rt: Runtime, alerts: list[Alert]) -> list[dict[str, Any]]:
    numbers = dict(session.execute(select(Counter.id, Counter.number).where(
        Counter.id.in_({a.counter_id for a in alerts if a.counter_id is not None})
    )).all()) if alerts else {}
    names = dict(session.execute(select(Staff.id, Staff.username).where(
        Staff.id.in_({a.acknowledged_by for a in alerts if a.acknowledged_by is not None})
    )).all()) if alerts else {}
    return [
        alert_view(a, counter_number=numbers.get(a.counter_id) if a.counter_id is not None else None,
                   acknowledged_by=names.get(a.acknowledged_by) if a.acknowledged_by is not None else None,
                   languages=rt.config_for(a.branch_id).branch.languages)
        for a in alerts
    ]

