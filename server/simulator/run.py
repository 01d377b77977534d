"""A branch day, simulated: the real domain services and alert engine on a manual clock.

Customers arrive (``world.Draws.arrivals``) and take tickets through ``tickets.issue_ticket`` as a
kiosk would; tellers open their counters and call, start, complete, pause and ask for help through
the same functions the HTTP API calls; the alert engine evaluates after every change and sweeps
every ``tick`` seconds of simulated time; the lobby manager (server/simulator/manager.py: one
person, acting through instructions the simulated tellers answer) hears the alerts the engine
publishes (the events the dashboard gets) and walks the hall, or there is no manager. Nothing here
decides what the system would do: it only plays the people. Afterwards ``incidents`` counts the
complaints (from the customers' patience) and the incidents from the history in the database, and
matches them with the alerts.

The customers also complain *during* the day, through the complaint register: when one's wait
passes their patience (``world.patience_s``) while they still wait, they may tell the lobby
manager (``world.complain_share``), who records it with ``server.lobby.complaints.record``, the
function behind POST /api/v1/complaints; the register's ``warned`` says whether an alert had come
first. ``next_day`` plays a later day on the same database (server/simulator/weeks.py: weeks).

Manager modes: ``alerts`` (the product: cards, help requests, rounds of the hall), ``walk`` (the
same person without alerts: help requests, as a phone call, and rounds) and ``none``.
"""

from __future__ import annotations

import heapq
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from server.actors import Actor
from server.bootstrap import open_runtime
from server.clock import ManualClock
from server.config import Config, load_config
from server.errors import CallwiseError, NotFound
from server.lobby import instructions
from server.lobby.complaints import complaints_between
from server.lobby.complaints import record as record_complaint
from server.maintenance import daily
from server.models import Alert, Counter, Device, Event, Service, Staff, Ticket
from server.queueing import counters, reads, tickets
from server.queueing.hours import told_in_time
from server.queueing.tickets import close_the_days, warn_the_late
from server.runtime import Runtime
from server.simulator.incidents import (
    AlertRecord,
    CounterRecord,
    Thresholds,
    TicketRecord,
    complaints,
    count_incidents,
    follow_up,
    match,
    normal_service_s,
    subject_of,
    warned_complaints,
    within_reach,
)
from server.simulator.manager import NOT_CUT, CounterSeen, Hall, Manager
from server.simulator.world import Customer, Draws, World, patience_s

DEFAULT_CONFIG = Path(__file__).with_name("busy_branch.toml")
DAY = datetime(2026, 12, 1).date()  # a Tuesday
REACTS_TO = ("alert_raised", "alert_changed")
MODES = ("alerts", "walk", "none")
# What a story a card joined is about (its "subject" there is the label: a ticket or counter number).
STORY_SUBJECTS = {"short_queue_long_wait": "ticket", "eta_broken": "ticket", "service_overrun": "ticket",
                  "idle_counter": "counter", "long_pause": "counter", "help_requested": "counter",
                  "paused_ratio": "branch", "service_level": "service", "unstaffed_service": "service"}
# A server's housekeeping (closing, the warning of who will likely not be reached) runs once a
# minute; a warning too close to closing counts as none (server/queueing/hours.py told_in_time).
HOUSEKEEPING_S = 60.0

# Seconds of simulated time between alert evaluations. A server sweeps every [alerts] tick_s (2 s)
# and evaluates a branch 0.2 s after a change (coalescing a burst); the simulator evaluates at its
# ticks only, changes included, so an alert comes at most one tick later than in a server: 10 s,
# against thresholds of 3 to 10 minutes and a manager who reacts in one to three, for a day that
# runs in a third of the time. --tick 2 gives the server's sweep cadence.
SIM_TICK_S = 10.0


@dataclass
class Teller:
    number: int
    services: tuple[str, ...]
    actor: Actor
    slow: bool
    reserve: bool
    lunch: tuple[float, float] | None  # (due, length); None once taken
    state: str = "closed"
    gen: int = 0  # bumped to cancel what was scheduled for this teller
    call_pending: bool = False
    wants_work: bool = False  # idle with nothing to call: an arrival wakes them
    ticket: int | None = None  # the ticket called or served
    customer_started: float = 0.0
    auth_wait: bool = False  # the transaction waits for an authorization
    rest_s: float = 0.0  # of the transaction, once authorized
    finish_at: float | None = None
    pause_reason: str | None = None
    pause_since: float = 0.0
    pause_until: float = 0.0  # as the teller meant it (the manager does not know it)
    owed_s: float = 0.0  # the rest of a break cut short, taken at the first free moment after owed_from
    owed_from: float = 0.0
    coming: bool = False  # a reserve teller on the way to open the counter
    take_next: bool = False  # asked to take a customer next: calls at once after this one, no pause
    aside: int = 0  # customers set aside here who are still fetching a document: they will be called back


@dataclass
class Result:
    summary: dict[str, Any]
    tickets: list[TicketRecord] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    incidents: list[Any] = field(default_factory=list)
    waiting_line: list[tuple[float, int]] = field(default_factory=list)
    complaints: list[Any] = field(default_factory=list)
    recorded: list[dict[str, Any]] = field(default_factory=list)  # the day's complaint register (its views)
    patience: dict[int, float] = field(default_factory=dict)  # ticket id -> its customer's patience (seconds)


class Simulation:
    # Customers whose patience runs out while waiting complain through the register (the live demo,
    # which plays the people over HTTP, leaves them silent).
    records_complaints = True

    def __init__(
        self, *, seed: int, policy: str = "at_risk_first", manager: bool | str = True, world: World | None = None,
        config_path: str | os.PathLike[str] | None = None, tick_s: float | None = None,
        database_dir: str | os.PathLike[str] | None = None, progress: Callable[[float], None] | None = None,
        database: str | os.PathLike[str] | None = None, day: date = DAY,
    ) -> None:
        """``database``: a SQLite file to fill and keep (default: a throw-away one under
        ``database_dir``); ``day``: the day to play first."""
        self.seed, self.policy, self.manager = seed, policy, _mode(manager)
        self.world = world or World()
        self.draws = Draws(self.world, seed)
        self.progress = progress
        self.tick_s = tick_s if tick_s is not None else SIM_TICK_S
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if database is None:
            self._folder = tempfile.TemporaryDirectory(prefix="callwise-sim-", dir=database_dir or _scratch_dir())
            path = Path(self._folder.name) / "sim.db"
        else:
            path = Path(database).resolve()
        config = load_config(
            config_path or DEFAULT_CONFIG,
            overrides={"server": {"database_url": f"sqlite:///{path}", "mode": "demo"}, "clock": {"mode": "manual"},
                       "queue": {"policy": policy}},
        )
        self._set_day(config, day)
        self.clock = ManualClock(self.opening - timedelta(minutes=5))
        self.rt: Runtime = open_runtime(self.config, clock=self.clock, publisher=self)
        # Changes are evaluated at the next tick's sweep (see SIM_TICK_S), not one by one.
        self.rt.change_listeners.remove(self.rt.alerts.on_change)
        self.branch_id = self.rt.default_branch_id
        self._make_people()

    def _set_day(self, config: Config, day: Any) -> None:
        """The branch, its day's opening and length, and the people model's empty state."""
        self.config: Config = config
        self.day = day
        tz = ZoneInfo(config.branch.timezone)
        self.opening = datetime.combine(day, _parse_time(config.branch.opening_time), tz).astimezone(timezone.utc)
        closing = datetime.combine(day, _parse_time(config.branch.closing_time), tz).astimezone(timezone.utc)
        self.day_s = (closing - self.opening).total_seconds()
        self.services = {s.code: s for s in config.services}
        self.by_kind: dict[str, list[str]] = {}
        for s in config.services:
            self.by_kind.setdefault(s.kind, []).append(s.code)
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._patience: list[tuple[float, int, int, float]] = []  # (runs out, ticket id, people ahead, issued)
        self._order = itertools.count()
        self.now = 0.0
        self.waiting: dict[int, str] = {}  # ticket id -> service code, as the tellers see the hall
        self.customers: dict[int, Customer] = {}  # ticket id -> who holds it
        self.open_at_issue: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.refused_at_door = 0  # customers who came after the last-ticket time
        self.cancelled_at_closing = 0
        self.answers: dict[str, int] = {}  # "kind:done|cannot": the tellers' answers to instructions
        self.pause_log: list[tuple[int, str, float, float | None]] = []  # (counter, reason, start, end)
        self.boss: Manager | None = None
        self.numbers: dict[str, int] = {}  # ticket number -> id
        self.first_called: dict[int, float] = {}  # ticket id -> its first call: where its wait ended
        self.came_back: set[int] = set()  # no-shows who came back late (they come when called again)
        self.fetching: dict[int, float] = {}  # held ticket id -> the service still to do when they are back
        self.back: dict[int, list[int]] = {}  # counter -> held tickets back from fetching, to call back
        self.tools: dict[str, int] = {"priority": 0, "held": 0, "called_back": 0, "returned": 0}
        self.stories: dict[int, dict[tuple[str, str], float]] = {}  # alert -> (rule, subject) shown -> first at
        self.impatient = 0  # customers whose patience ran out while they waited
        self.recorded: list[dict[str, Any]] = []  # the complaints they made, as the register answered

    # --- set-up --------------------------------------------------------------------------------

    def _make_people(self) -> None:
        self._make_staff()
        self._make_tellers()
        self._hire_manager()

    def _make_staff(self) -> None:
        """Staff rows for the tellers and the manager (they never log in: no password works), a kiosk;
        those a database already has (from an earlier day) are used again."""
        counters = sorted(self.config.counters, key=lambda c: c.number)
        with self.rt.reading() as session:
            known = set(session.scalars(select(Staff.username).where(Staff.branch_id == self.branch_id)))
            kiosk = session.scalar(select(Device.id).where(Device.branch_id == self.branch_id,
                                                           Device.name == "sim-kiosk"))
        with self.rt.uow() as uow:
            session = uow.session
            rows = [{"username": f"sim-teller-{c.number}", "display_name": f"Teller {c.number}", "password_hash": "!",
                     "role": "teller", "branch_id": self.branch_id, "created_at": self.clock.now()} for c in counters]
            rows.append({"username": "sim-manager", "display_name": "Lobby manager", "password_hash": "!",
                         "role": "manager", "branch_id": self.branch_id, "created_at": self.clock.now()})
            rows = [row for row in rows if row["username"] not in known]
            if rows:
                session.execute(insert(Staff), rows)
            if kiosk is None:
                session.add(Device(branch_id=self.branch_id, name="sim-kiosk", kind="kiosk",
                                   token_hash=f"sim-{self.seed}-{os.getpid()}", created_at=self.clock.now()))
            uow.commit()
        with self.rt.reading() as session:
            self.staff_ids = {s.username: s.id for s in session.scalars(
                select(Staff).where(Staff.branch_id == self.branch_id))}
            kiosk = session.scalar(select(Device.id).where(Device.branch_id == self.branch_id,
                                                           Device.name == "sim-kiosk"))
        self.kiosk = Actor(kind="device", id=kiosk, role="kiosk", branch_id=self.branch_id, name="sim-kiosk")
        self.manager_actor = Actor(kind="staff", id=self.staff_ids["sim-manager"], role="manager",
                                   branch_id=self.branch_id, name="sim-manager")

    def _make_tellers(self) -> None:
        """The day's tellers at their counters, with the habits the day's draws give them."""
        counters = sorted(self.config.counters, key=lambda c: c.number)
        spare = self.world.reserve_counters
        reserve = {c.number for c in counters[len(counters) - spare:]} if spare else set()
        self.tellers: dict[int, Teller] = {}
        for c in counters:
            actor = Actor(kind="staff", id=self.staff_ids[f"sim-teller-{c.number}"], role="teller",
                          branch_id=self.branch_id, name=f"sim-teller-{c.number}")
            self.tellers[c.number] = Teller(c.number, tuple(c.services), actor, self.draws.slow_teller(c.number),
                                            c.number in reserve, self.draws.lunch(c.number))

    def next_day(self, day: date, seed: int) -> int:
        """Play ``day`` next, on the same database with the same staff and kiosk: its customers and
        its tellers' habits drawn from ``seed``, the clock at its opening, where a server's
        housekeeping (server/maintenance.py ``daily``: closing, the rollover of anything the day
        before left, retention) runs first. Returns how many tickets that housekeeping closed (none
        when the day before ended properly)."""
        self.seed = seed
        self.draws = Draws(self.world, seed)
        self._set_day(self.config, day)
        self.clock.set(self.opening)  # refuses a day that is not later
        closed = daily(self.rt)["closed"]
        self._make_tellers()
        self._hire_manager()
        return closed

    def _hire_manager(self) -> None:
        if self.manager != "none":
            self.boss = Manager(self, self.draws, self.manager, round_actions=self.world.manager_round_actions,
                                day_s=self.day_s)

    # --- the event loop ------------------------------------------------------------------------

    def at(self, when: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._order), action, args))

    def run(self) -> Result:
        started = time.perf_counter()
        for t in self.draws.arrivals(self.day_s):
            self.at(t, self.arrive)
        for teller in self.tellers.values():
            if not teller.reserve:
                self.at(self.draws.teller(teller.number).uniform(0, 60), self.open_counter, teller)
        self.at(self.day_s, self.closing_time)
        if self.boss is not None:
            self.boss.start()
        next_sweep = 0.0
        next_housekeeping = 0.0
        while self._queue:
            when = self._queue[0][0]
            while next_sweep <= when:
                self._patience_until(next_sweep)
                self._move_to(next_sweep)
                self._sweep()
                if next_sweep >= next_housekeeping:  # as a server's housekeeping, once a minute
                    warn_the_late(self.rt, self.branch_id)
                    next_housekeeping += HOUSEKEEPING_S
                next_sweep += self.tick_s
            when, _, action, args = heapq.heappop(self._queue)
            self._patience_until(when)  # (none for a reaction queued at a sweep: it runs late, at its clock)
            self._move_to(when)
            action(*args)
        self._move_to(max(self.now, self.day_s))
        self._sweep()
        return self._result(time.perf_counter() - started)

    def _sweep(self) -> None:
        self.rt.alerts.sweep()

    def _patience_until(self, until: float) -> None:
        """The customers whose patience runs out before ``until``, each at their moment (the loop
        calls it before every sweep and event). They wait in a queue of their own: an event in the
        main one would change when the loop gets to the reactions the manager queues during a sweep
        (those run once the sweeps up to the next event are done, at that clock), and so move every
        figure of a day with a manager. Here they only come between steps the loop takes anyway,
        and every step leaves the clock where it did without them."""
        while self._patience and self._patience[0][0] < until:
            when, ticket_id, ahead, issued = heapq.heappop(self._patience)
            self._move_to(when)
            self.out_of_patience(ticket_id, ahead, issued)

    def _alert_open(self, alert_id: int) -> bool:
        with self.rt.reading() as session:
            row = session.get(Alert, alert_id)
            return row is not None and row.resolved_at is None

    def _move_to(self, when: float) -> None:
        if when > self.now:
            if self.progress is not None:
                self.progress(min(when, self.day_s) - min(self.now, self.day_s))
            self.now = when
        self.clock.set(self.opening + timedelta(seconds=self.now))

    def _do(self, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """A domain call; a refusal is counted (it means the people model did something invalid)."""
        try:
            return call(self.rt, *args)
        except NotFound:
            raise
        except CallwiseError as exc:
            key = f"{what}:{getattr(exc, 'code', type(exc).__name__)}"
            self.errors[key] = self.errors.get(key, 0) + 1
            return None

    # --- customers -----------------------------------------------------------------------------

    def arrive(self) -> None:
        customer = self.draws.customer(self.by_kind, self.services)
        code = customer.service
        ticket, _ = self._do("issue", tickets.issue_ticket, self.kiosk, self.branch_id, code, None, None,
                             customer.priority) or (None, None)
        if ticket is None:
            # After the last-ticket time the kiosk says when to come back: a refusal at the door,
            # not a mistake of the people model.
            if self.errors.pop("issue:branch_closed", 0):
                self.refused_at_door += 1
            return
        self.tools["priority"] += customer.priority
        self.customers[ticket["id"]] = customer
        self.numbers[ticket["number"]] = ticket["id"]
        self.open_at_issue[ticket["id"]] = sum(
            1 for t in self.tellers.values() if t.state != "closed" and code in t.services)
        if self.records_complaints:
            # Their patience (the model the complaints afterwards count with) runs out then; after
            # closing nobody is left waiting to complain (closing sends them home).
            runs_out = self.now + patience_s(self.world, ticket["people_ahead"], customer.patience_z)
            if runs_out < self.day_s:
                heapq.heappush(self._patience, (runs_out, ticket["id"], ticket["people_ahead"], self.now))
        self._in_line(ticket["id"], code)

    def out_of_patience(self, ticket_id: int, ahead: int, issued: float) -> None:
        """A customer's patience has run out. Still waiting (never called, not sent home), they may
        tell the lobby manager (``world.complain_share``), who records it in the complaint register
        at once: a short-queue wait when they had seen at most two people ahead (PRODUCT.md kind 3),
        else "other" (a long wait in a long queue is none of the six kinds)."""
        if ticket_id in self.first_called or ticket_id not in self.waiting:
            return
        self.impatient += 1
        if not self.draws.tells_the_staff():
            return
        kind = "short_queue_wait" if ahead <= Thresholds().max_ahead else "other"
        minutes = round((self.now - issued) / 60)
        text = f"等了 {minutes} 分钟，取号时前面 {ahead} 人 / waited {minutes} min, {ahead} ahead at the kiosk"
        view = self._do("complain", partial(record_complaint, ticket_id=ticket_id), self.manager_actor,
                        self.branch_id, kind, text)
        if view is not None:
            self.recorded.append(view)

    def _in_line(self, ticket_id: int, code: str) -> None:
        """A ticket waits (new, or back): the consoles show it; one free teller who may serve it takes
        it (the others see that nobody is left for them, as their screens say)."""
        self.waiting[ticket_id] = code
        free = [t for t in self.tellers.values() if t.wants_work and code in t.services]
        if free:
            teller = free[0] if len(free) == 1 else self.draws.hall.choice(free)
            teller.wants_work = False
            self.ready(teller)

    def _customer(self, ticket_id: int | None) -> Customer:
        """Who holds the ticket: drawn on arrival; or, for a ticket someone else issued (a real kiosk
        beside a live simulation), drawn now."""
        assert ticket_id is not None, "a teller with a customer knows the ticket"
        if ticket_id not in self.customers:
            self.customers[ticket_id] = self.draws.customer(self.by_kind, self.services)
        return self.customers[ticket_id]

    # --- tellers -------------------------------------------------------------------------------

    def open_counter(self, teller: Teller) -> None:
        if teller.state != "closed":
            return
        if self._do("open", counters.open_counter, teller.actor, self.branch_id, teller.number) is not None:
            teller.state = "idle"
            self.ready(teller)

    def ready(self, teller: Teller, *, prompt: bool = False) -> None:
        """The teller is free: they will press call-next after their habit's delay (or at once)."""
        if teller.state != "idle" or teller.call_pending:
            return
        if not self.back.get(teller.number) and not any(code in teller.services for code in self.waiting.values()):
            teller.wants_work = True
            if self.now >= self.day_s:
                self.at(self.now, self.close, teller, teller.gen)
            return
        teller.call_pending = True
        delay = 0.0 if prompt else self.draws.call_delay_s(teller.number, teller.slow)
        self.at(self.now + delay, self.call, teller, teller.gen)

    def call(self, teller: Teller, gen: int) -> None:
        if gen != teller.gen or teller.state != "idle":
            return
        teller.call_pending = False
        back = self.back.get(teller.number)
        if back:  # a customer set aside here is back with the document: called back first
            ticket = self._do("call", counters.call_ticket, teller.actor, self.branch_id, teller.number, back.pop(0))
            if ticket is None:
                self.ready(teller)
                return
            self.tools["called_back"] += 1
        else:
            if not any(code in teller.services for code in self.waiting.values()):
                self.ready(teller)  # someone else called them meanwhile: the console shows nobody waiting
                return
            try:
                ticket = self._do("call_next", counters.call_next, teller.actor, self.branch_id, teller.number)
            except NotFound:
                teller.wants_work = True  # another counter took the last one
                return
            if ticket is None:
                return
        self.waiting.pop(ticket["id"], None)
        self.first_called.setdefault(ticket["id"], self.now)
        teller.state, teller.ticket = "calling", ticket["id"]
        customer = self._customer(ticket["id"])
        if customer.no_show and ticket["id"] not in self.came_back:
            self.at(self.now + self.world.no_show_wait_s, self.recall, teller, teller.gen)
        else:
            self.at(self.now + customer.walk_s, self.start, teller, teller.gen)

    def recall(self, teller: Teller, gen: int) -> None:
        if gen != teller.gen or teller.state != "calling":
            return
        self._do("recall", counters.recall, teller.actor, self.branch_id, teller.number)
        self.at(self.now + self.world.no_show_wait_s, self.no_show, teller, teller.gen)

    def no_show(self, teller: Teller, gen: int) -> None:
        if gen != teller.gen or teller.state != "calling":
            return
        ticket_id = teller.ticket
        self._do("no_show", counters.no_show, teller.actor, self.branch_id, teller.number)
        teller.state, teller.ticket = "idle", None
        late = self._customer(ticket_id).late_return_s
        if late is not None and ticket_id is not None:
            self.at(self.now + late, self.comes_back, teller, ticket_id)
        self.after_customer(teller, 0.0)

    def comes_back(self, teller: Teller, ticket_id: int) -> None:
        """A no-show turns up late and asks at the counter that called them: the teller brings the
        ticket back (to the front of its service) — while the branch still serves, else they are told
        to come another day."""
        if self.now >= self.day_s or teller.state == "closed":
            return
        back = self._do("return", tickets.return_ticket, teller.actor, self.branch_id, ticket_id)
        if back is None:
            return
        self.came_back.add(ticket_id)
        self.tools["returned"] += 1
        self._in_line(ticket_id, back["service"])

    def start(self, teller: Teller, gen: int) -> None:
        if gen != teller.gen or teller.state != "calling":
            return
        self._do("start", counters.start_service, teller.actor, self.branch_id, teller.number)
        teller.state, teller.customer_started = "serving", self.now
        customer = self._customer(teller.ticket)
        teller.auth_wait, teller.finish_at = False, None
        rest = self.fetching.pop(teller.ticket, None) if teller.ticket is not None else None
        if rest is not None:  # back with the document: the rest of the service
            teller.finish_at = self.now + rest
            self.at(teller.finish_at, self.finish, teller, teller.gen, teller.finish_at)
        elif customer.hold is not None:
            # Part way through, a document is missing: the customer goes to fetch it.
            done_share, fetch_s = customer.hold
            self.at(self.now + done_share * customer.service_s, self.set_aside, teller, teller.gen,
                    (1 - done_share) * customer.service_s, fetch_s)
        elif customer.auth is not None:
            # Part way through, the transaction needs an authorization: the teller pages the
            # manager and waits; the back office answers after ``extra`` unless the manager comes.
            at_s, extra = customer.auth
            teller.rest_s = customer.service_s - at_s
            self.at(self.now + at_s, self.need_authorization, teller, teller.gen, extra)
        else:
            teller.finish_at = self.now + customer.service_s
            self.at(teller.finish_at, self.finish, teller, teller.gen, teller.finish_at)

    def set_aside(self, teller: Teller, gen: int, rest_s: float, fetch_s: float) -> None:
        """The teller sets the customer aside (hold) with a note and is free for the next; the
        customer comes back after ``fetch_s`` and this teller calls them back when next free."""
        if gen != teller.gen or teller.state != "serving" or teller.ticket is None:
            return
        ticket_id = teller.ticket
        if self._do("hold", counters.hold, teller.actor, self.branch_id, teller.number,
                    "fetching a missing document") is None:
            return
        self.tools["held"] += 1
        self.fetching[ticket_id] = rest_s
        teller.aside += 1
        teller.state, teller.ticket = "idle", None
        self.at(self.now + fetch_s, self.back_with_document, teller, ticket_id)
        self.after_customer(teller, self.now - teller.customer_started)

    def back_with_document(self, teller: Teller, ticket_id: int) -> None:
        if ticket_id not in self.fetching:
            return
        teller.aside -= 1
        self.back.setdefault(teller.number, []).append(ticket_id)
        if teller.state == "idle":
            teller.wants_work = False
            self.ready(teller, prompt=True)

    def need_authorization(self, teller: Teller, gen: int, extra: float) -> None:
        if gen != teller.gen or teller.state != "serving":
            return
        teller.auth_wait = True
        self._do("request_help", counters.request_help, teller.actor, self.branch_id, teller.number)
        self.at(self.now + extra, self.authorized, teller, gen)

    def authorized(self, teller: Teller, gen: int) -> None:
        """The authorization came (from the back office, or the manager on the spot): the rest of the
        transaction follows."""
        if gen != teller.gen or teller.state != "serving" or not teller.auth_wait:
            return
        teller.auth_wait = False
        teller.finish_at = self.now + teller.rest_s
        self.at(teller.finish_at, self.finish, teller, gen, teller.finish_at)

    def finish(self, teller: Teller, gen: int, due: float) -> None:
        if gen != teller.gen or teller.state != "serving" or due != teller.finish_at:
            return
        self._do("complete", counters.complete, teller.actor, self.branch_id, teller.number,
                 self._customer(teller.ticket).outcome)
        teller.state, teller.ticket, teller.auth_wait, teller.finish_at = "idle", None, False, None
        self.after_customer(teller, self.now - teller.customer_started)

    def after_customer(self, teller: Teller, customer_s: float) -> None:
        if teller.take_next:
            teller.take_next = False
            self.ready(teller, prompt=True)
            return
        if self.now < self.day_s:
            if teller.lunch is not None and self.now >= teller.lunch[0]:
                length = teller.lunch[1]
                teller.lunch = None
                self.pause(teller, "lunch", length)
                return
            if teller.owed_s > 0 and self.now >= teller.owed_from:
                owed, teller.owed_s = teller.owed_s, 0.0
                self.pause(teller, "break", owed)
                return
            pause = self.draws.pause_after_customer(teller.number, customer_s)
            if pause is not None:
                self.pause(teller, *pause)
                return
        self.ready(teller)

    def pause(self, teller: Teller, reason: str, length: float) -> None:
        if self._do("pause", counters.pause, teller.actor, self.branch_id, teller.number, reason) is None:
            self.ready(teller)
            return
        teller.state, teller.pause_reason = "paused", reason
        teller.pause_since, teller.pause_until = self.now, self.now + length
        self.pause_log.append((teller.number, reason, self.now, None))
        self.at(self.now + length, self.resume, teller, teller.gen)

    def resume(self, teller: Teller, gen: int, *, prompt: bool = False) -> None:
        if gen != teller.gen or teller.state != "paused":
            return
        self._do("resume", counters.resume, teller.actor, self.branch_id, teller.number)
        for i in range(len(self.pause_log) - 1, -1, -1):
            if self.pause_log[i][0] == teller.number and self.pause_log[i][3] is None:
                self.pause_log[i] = (*self.pause_log[i][:3], self.now)
                break
        teller.state, teller.pause_reason = "idle", None
        self.ready(teller, prompt=prompt)

    # --- instructions, as the teller hears and answers them ------------------------------------

    def heard(self, teller: Teller, instruction_id: int, kind: str) -> None:
        """The teller reads an instruction on the console (a few seconds after it came), acts on it
        or not, and answers."""
        reply, why = self._teller_answer(teller, kind)
        self._do("answer", instructions.answer, teller.actor, self.branch_id, instruction_id, reply, why)
        key = f"{kind}:{reply}"
        self.answers[key] = self.answers.get(key, 0) + 1

    def _teller_answer(self, teller: Teller, kind: str) -> tuple[str, str | None]:
        if kind in ("call_next", "serve_ticket"):  # no "call this ticket" command: call-next it is
            if teller.state == "idle":
                if not any(code in teller.services for code in self.waiting.values()):
                    return "cannot", "nobody is waiting for my services"
                teller.gen += 1
                teller.call_pending = teller.wants_work = False
                self.ready(teller, prompt=True)
                return "done", None
            if teller.state == "paused":
                return "cannot", f"paused ({teller.pause_reason})"
            if kind == "serve_ticket":  # "take them next": after this customer, no pause before
                teller.take_next = True
                return "done", None
            return "cannot", "with a customer"
        if kind == "end_pause":
            if teller.state != "paused":
                return "done", None  # already back
            if teller.pause_reason in NOT_CUT:
                return "cannot", f"{teller.pause_reason} cannot be cut"
            if not self.draws.agrees_to_end_break(teller.number):
                return "cannot", "I need my break"
            owed = teller.pause_until - self.now
            if owed > 0:
                teller.owed_s += owed
                teller.owed_from = self.now + self.world.owed_break_after_s
            teller.gen += 1
            self.resume(teller, teller.gen, prompt=True)
            return "done", None
        return "done", None

    def closing_time(self) -> None:
        """Closing: what still waits is cancelled (the server does it: phones and screens say why);
        tellers with nobody left to call sign off, the others finish the customer at their counter."""
        self.cancelled_at_closing += close_the_days(self.rt)
        self.waiting.clear()  # (a customer set aside is still called back by their teller)
        for teller in self.tellers.values():
            if teller.state == "idle" and teller.wants_work:
                self.close(teller, teller.gen)

    def close(self, teller: Teller, gen: int) -> None:
        """After closing time, a teller with nobody left to call signs off (one who set a customer
        aside waits for them to come back with the document, and finishes them)."""
        if (gen != teller.gen or teller.state != "idle" or any(c in teller.services for c in self.waiting.values())
                or self.back.get(teller.number) or teller.aside):
            return
        if self._do("close", counters.close_counter, teller.actor, self.branch_id, teller.number) is not None:
            teller.state, teller.wants_work = "closed", False
            teller.gen += 1

    # --- the lobby manager's hands and eyes (server/simulator/manager.py) -----------------------

    def between_messages(self) -> None:
        return None

    def publish(self, event: str, payload: dict[str, Any], rooms: list[str]) -> None:
        """The engine's Socket.IO events: the manager's dashboard is the only listener here (and the
        record of which situations each card told, and since when)."""
        if event in REACTS_TO:
            self._note_stories(payload)
            if self.boss is not None:
                self.boss.hear(payload)

    def _note_stories(self, alert: dict[str, Any]) -> None:
        told = self.stories.setdefault(alert["id"], {})
        for part in (alert.get("data") or {}).get("joined", []):
            rule, label = part.get("rule"), str(part.get("subject", ""))
            kind = STORY_SUBJECTS.get(rule, "branch")
            if kind == "ticket":
                subject = f"ticket:{self.numbers[label]}" if label in self.numbers else None
            else:
                subject = subject_of(kind, label)
            if subject is not None:
                told.setdefault((rule, subject), self.now)

    def _try(self, call: Callable[..., Any], *args: Any, **options: Any) -> Any:
        """A manager's request; a refusal (the state moved on) comes back as None."""
        try:
            return call(self.rt, *args, **options)
        except CallwiseError:
            return None

    def hall(self) -> Hall:
        """What the dashboard shows: the counters and the waiting counts."""
        with self.rt.reading() as session:
            views = reads.counter_views(session, self.rt.config_for(self.branch_id), self.branch_id)
        waiting: dict[str, int] = {}
        for code in self.waiting.values():
            waiting[code] = waiting.get(code, 0) + 1
        return Hall(self.now, tuple(self._seen(v) for v in views), waiting)

    def _seen(self, view: dict[str, Any]) -> CounterSeen:
        teller = self.tellers.get(view["number"])
        since = view.get("state_since")
        return CounterSeen(
            view["number"], view["state"],
            self._seconds(datetime.fromisoformat(since)) or 0.0 if since else 0.0, tuple(view["services"]),
            view.get("pause_reason"), (view.get("help") or {}).get("state"),
            reserve=bool(teller and teller.reserve and view["state"] == "closed" and not teller.coming
                         and self.now < self.day_s))

    def alert_open(self, alert_id: int) -> bool:
        return self._alert_open(alert_id)

    def help_alert_at(self, counter: int) -> int | None:
        with self.rt.reading() as session:
            counter_id = session.scalar(select(Counter.id).where(Counter.branch_id == self.branch_id,
                                                                 Counter.number == counter))
            return session.scalar(select(Alert.id).where(
                Alert.rule == "help_requested", Alert.counter_id == counter_id, Alert.resolved_at.is_(None)))

    def acknowledge(self, alert_id: int) -> None:
        self._try(lambda rt, *a: rt.alerts.acknowledge(*a), self.manager_actor, self.branch_id, alert_id)

    def respond(self, alert_id: int, state: str) -> bool:
        return self._try(lambda rt, *a: rt.alerts.respond(*a), self.manager_actor, self.branch_id, alert_id,
                         state) is not None

    def instruct(self, counter: int, kind: str, ticket: int | None, alert_id: int | None) -> bool:
        """Send the instruction; the teller (played here) hears it and answers a little later."""
        view = self._try(instructions.instruct, self.manager_actor, self.branch_id, counter, kind,
                         ticket_id=ticket if kind == "serve_ticket" else None, alert_id=alert_id)
        if view is None:
            return False
        teller = self.tellers[counter]
        self.at(self.now + self.draws.answer_delay_s(counter), self.heard, teller, view["id"], kind)
        return True

    def open_reserve(self, counter: int) -> bool:
        """Asked in the back office, the reserve teller comes out and opens the counter."""
        teller = self.tellers.get(counter)
        if teller is None or teller.state != "closed" or teller.coming or self.now >= self.day_s:
            return False
        teller.coming = True
        self.at(self.now + 60 + self.draws.answer_delay_s(counter), self._reserve_opens, teller)
        return True

    def _reserve_opens(self, teller: Teller) -> None:
        teller.coming = False
        self.open_counter(teller)

    def authorize(self, counter: int) -> bool:
        teller = self.tellers.get(counter)
        if teller is None or not teller.auth_wait:
            return False
        self.authorized(teller, teller.gen)
        return True

    # --- what happened -------------------------------------------------------------------------

    def _seconds(self, when: datetime | None) -> float | None:
        return None if when is None else (when - self.opening).total_seconds()

    def _result(self, run_s: float) -> Result:
        end = self.now
        day_start = self.opening - timedelta(minutes=5)  # (a later day on the same database: only its own)
        with self.rt.reading() as session:
            codes = {s.id: s.code for s in session.scalars(select(Service))}
            numbers = {c.id: c.number for c in session.scalars(select(Counter))}
            rows = list(session.scalars(select(Ticket).where(Ticket.branch_id == self.branch_id,
                                                             Ticket.business_day == self.day).order_by(Ticket.id)))
            # A ticket's wait ends at its first call: a no-show who came back later waited no longer.
            tickets = [
                TicketRecord(t.id, codes[t.service_id], t.people_ahead, self._seconds(t.issued_at) or 0.0,
                             self.first_called.get(t.id, self._seconds(t.called_at)), self._seconds(t.served_at),
                             self._seconds(t.finished_at), numbers.get(t.counter_id) if t.counter_id else None)
                for t in rows
            ]
            promised = {t.id: t.estimated_wait_s for t in rows}
            # Sent home at closing without having been told, at the kiosk or in time on their phone
            # and the lobby screen, that they might not be served.
            closing = self.opening + timedelta(seconds=self.day_s)
            unwarned = sum(1 for t in rows if t.cancel_reason == "branch_closed"
                           and not told_in_time(t.fits_before_close, t.late_warned_at, closing))
            warned_while_waiting = sum(1 for t in rows if t.late_warned_at is not None)
            counters = {c.id: CounterRecord(c.number, self.tellers[c.number].services, [(-300.0, "closed")])
                        for c in session.scalars(select(Counter).where(Counter.branch_id == self.branch_id))}
            for event in session.scalars(select(Event).where(Event.entity == "counter", Event.at >= day_start)
                                         .order_by(Event.id)):
                counters[event.entity_id].states.append((self._seconds(event.at) or 0.0, event.to_state))
            alerts = [
                AlertRecord(a.rule, subject_of(a.subject_kind, a.subject_id),
                            self._seconds(a.raised_at) or 0.0, self._seconds(a.resolved_at), a.ticket_id,
                            numbers.get(a.counter_id) if a.counter_id is not None else None,
                            tuple((rule, subject, at) for (rule, subject), at in self.stories.get(a.id, {}).items()))
                for a in session.scalars(select(Alert).where(Alert.branch_id == self.branch_id,
                                                             Alert.raised_at >= day_start).order_by(Alert.id))
            ]
        normal = normal_service_s(tickets, {code: s.expected_minutes * 60 for code, s in self.services.items()})
        incidents = count_incidents(tickets, list(counters.values()), normal, end)
        matched = match(incidents, [story for a in alerts for story in a.told()])
        patience = {t.id: patience_s(self.world, t.people_ahead, self.customers[t.id].patience_z)
                    for t in tickets if t.id in self.customers}
        complained = complaints(tickets, patience, end)
        warned = warned_complaints(complained, alerts)
        services_at = {c.number: c.services for c in counters.values()}
        called = [t for t in tickets if t.called is not None]
        waits = sorted(t.called - t.issued for t in called if t.called is not None)
        eta_errors = [abs(promised[t.id] - (t.called - t.issued)) for t in called if t.called is not None]
        naive_errors = [
            abs(t.people_ahead * normal[t.service] / max(1, self.open_at_issue.get(t.id, 1)) - (t.called - t.issued))
            for t in called if t.called is not None
        ]
        per_kind = matched["per_kind"]
        alert_counts: dict[str, int] = {}
        for a in alerts:
            alert_counts[a.rule] = alert_counts.get(a.rule, 0) + 1
        hours = self.day_s / 3600
        per_hour = [0] * max(1, int(max(end, self.day_s) // 3600) + 1)
        for a in alerts:
            per_hour[min(len(per_hour) - 1, max(0, int(a.raised // 3600)))] += 1
        workload = self.boss.summary(hours) if self.boss is not None else None
        summary = {
            "seed": self.seed,
            "policy": self.policy,
            "manager": self.manager,
            "tickets": len(tickets),
            "served": sum(1 for t in tickets if t.finished is not None and t.served is not None),
            "wait_s": {
                "mean": round(statistics.fmean(waits), 1) if waits else None,
                "p50": round(_quantile(waits, 0.5), 1) if waits else None,
                "p90": round(_quantile(waits, 0.9), 1) if waits else None,
                "max": round(waits[-1], 1) if waits else None,
            },
            # Priority customers' wait beside everyone else's, and how often the counter's tools were used.
            "priority_wait_s": {
                label: round(statistics.fmean(chosen), 1) if chosen else None
                for label, chosen in (
                    ("priority", [t.called - t.issued for t in called if t.called is not None
                                  and t.id in self.customers and self.customers[t.id].priority]),
                    ("others", [t.called - t.issued for t in called if t.called is not None
                                and not (t.id in self.customers and self.customers[t.id].priority)]))},
            "counter_tools": dict(self.tools),
            "incidents": {**{k: per_kind[k]["incidents"] for k in per_kind}, "total": len(incidents)},
            "complaints": {"total": len(complained), "short_queue": sum(c.short_queue for c in complained),
                           "long_queue": sum(not c.short_queue for c in complained)},
            "short_queue_complaints": {k: v for k, v in warned.items() if k not in ("lead_s", "missed")},
            "short_queue_complaint_leads_s": warned["lead_s"],
            "short_queue_complaints_missed": warned["missed"],
            "alerts": dict(sorted(alert_counts.items())),
            "alerts_shown": {"total": len(alerts), "per_hour": per_hour,
                             "mean_per_hour": round(len(alerts) / hours, 2), "peak_hour": max(per_hour)},
            "follow_up": follow_up(alerts, incidents, complained, services_at, end),
            "short_queue_recall": per_kind["short_queue"]["recall"],
            "short_queue_median_lead_s": per_kind["short_queue"]["median_lead_s"],
            "recall": {k: per_kind[k]["recall"] for k in per_kind},
            "median_lead_s": {k: per_kind[k]["median_lead_s"] for k in per_kind},
            "false_alert_share": matched["false_alert_share"],
            "eta_mae_s": round(statistics.fmean(eta_errors), 1) if eta_errors else None,
            "eta_naive_mae_s": round(statistics.fmean(naive_errors), 1) if naive_errors else None,
            "teller_minutes": self._teller_minutes(list(counters.values()), end),
            "within_reach": within_reach(tickets, list(counters.values()), self.pause_log, incidents, complained,
                                         end),
            "manager_actions": workload["steps"] if workload else {},
            "manager_workload": workload,
            "instruction_answers": dict(sorted(self.answers.items())),
            "refused_actions": dict(sorted(self.errors.items())),
            # Hours: who came after the last-ticket time, who was still waiting at closing, and of
            # those, who had never been told they might not be served (at the kiosk, or in time while
            # waiting); how many were told while waiting.
            "refused_at_door": self.refused_at_door,
            "cancelled_at_closing": self.cancelled_at_closing,
            "cancelled_unwarned": unwarned,
            "warned_while_waiting": warned_while_waiting,
            "opening_hour": round(self.opening.astimezone(ZoneInfo(self.config.branch.timezone)).hour
                                  + self.opening.astimezone(ZoneInfo(self.config.branch.timezone)).minute / 60, 3),
            "day_s": self.day_s,
            "sim_end_s": round(end, 1),
            "tick_s": self.tick_s,
            "run_s": round(run_s, 2),
            "register": self._register(),
        }
        line = _waiting_line(tickets, end)
        return Result(summary, tickets, alerts, incidents, line, complained, list(self.recorded), patience)

    def _register(self) -> dict[str, Any]:
        """The day's complaints as the register has them: per kind, and how many an alert came
        before (the register's own ``warned``: server/lobby/complaints.py ``warning_before``), and of
        those how many the manager had acknowledged or acted on by then. ``impatient``: the
        customers whose patience ran out while they waited (all complain when complain_share is 1)."""
        views = complaints_between(self.rt, self.branch_id, self.day, self.day)
        warned = [c["warned"] for c in views if c["warned"]]
        kinds: dict[str, int] = {}
        for c in views:
            kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
        return {
            "impatient": self.impatient,
            "complaints": len(views),
            "kinds": dict(sorted(kinds.items())),
            "preceded_by_alert": len(warned),
            "preceded_share": round(len(warned) / len(views), 4) if views else None,
            "acknowledged": sum(w["acknowledged"] for w in warned),
            "acted": sum(w["acted"] for w in warned),
        }

    def _teller_minutes(self, history: list[CounterRecord], end: float) -> dict[str, Any]:
        """Teller-minutes in each counter state over the day, and the pauses by reason."""
        states: dict[str, float] = {}
        for counter in history:
            for (since, state), nxt in zip(counter.states, [*counter.states[1:], (end, "")], strict=True):
                start = max(since, 0.0)
                if nxt[0] > start:
                    states[state] = states.get(state, 0.0) + nxt[0] - start
        reasons: dict[str, float] = {}
        for _, reason, start, stop in self.pause_log:
            reasons[reason] = reasons.get(reason, 0.0) + (stop if stop is not None else end) - start
        out: dict[str, Any] = {k: round(v / 60, 1) for k, v in sorted(states.items()) if k != "closed"}
        out["paused_by_reason"] = {k: round(v / 60, 1) for k, v in sorted(reasons.items())}
        return out

    def close_database(self) -> None:
        self.rt.db.dispose()
        if self._folder is not None:
            self._folder.cleanup()


def _mode(manager: bool | str) -> str:
    mode = {True: "alerts", False: "none"}.get(manager, manager) if isinstance(manager, bool) else manager
    if mode not in MODES:
        raise ValueError(f"manager: {manager!r} (use one of {', '.join(MODES)})")
    return str(mode)


def _waiting_line(tickets: list[TicketRecord], end: float) -> list[tuple[float, int]]:
    steps = sorted([(t.issued, 1) for t in tickets]
                   + [(t.called if t.called is not None else end, -1) for t in tickets])
    out, n = [], 0
    for at, d in steps:
        n += d
        out.append((at, n))
    return out


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def _parse_time(value: Any) -> clock_time:
    return value if isinstance(value, clock_time) else clock_time.fromisoformat(str(value))


def _scratch_dir() -> str | None:
    """A RAM disk when there is one: a throw-away database need not wait for the disk."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def simulate(**options: Any) -> Result:
    simulation = Simulation(**options)
    try:
        return simulation.run()
    finally:
        simulation.close_database()
