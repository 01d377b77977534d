"""Random branch days, driven through the real HTTP API.

Hypothesis plays kiosks, tellers, the manager and the customers' phones in any order — issuing
tickets (priority ones too, from kiosks and staff), opening counters, calling the next or a chosen
ticket, recalling, serving, holding and calling back, recording no-shows (within and after the
grace) and bringing them back, undoing, transferring, pausing, asking for help, closing, customers
leaving the queue, moving the manual clock across business days — and after every step checks what
must always hold:

* every answer is a success or a JSON error of the contract's kinds, never a 500;
* an answer that is an error changed nothing in the database;
* counters and tickets are in valid, mutually consistent states;
* ticket numbers are unique per business day and gapless per service;
* replaying the event log reproduces the state of every ticket and counter in the tables.

Beside those, a small reference model of the branch predicts every answer (who may do what, in
which state, which ticket call-next picks), so a wrong refusal or a wrong acceptance fails too.

Each example gets its own database, copied from the session's template (the function-scoped
fixtures would be shared by all examples), so examples never see each other's tickets. A failure is
reported without shrinking unless CALLWISE_SHRINK=1 (see PHASES below).
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import create_engine, select, text

from server import create_app
from server.config import PAUSE_REASONS
from server.models import Alert, Counter, Event, Service, Staff, Ticket, TicketSequence
from server.queueing import policy
from server.queueing.hours import Hours, hours_now
from server.queueing.machine import (
    COUNTER_ACTIONS,
    CounterState,
    LoggedChange,
    Outcome,
    TicketStatus,
    replay,
)
from server.queueing.numbering import format_number
from tests.conftest import TEST_CONFIG, Api, Template, pg_admin_url, with_database

TELLERS = ("teller1", "teller2", "teller3", "teller4")
STAFF = (*TELLERS, "manager")
MANAGERS = ("manager",)
UNKNOWN_COUNTER = 9

# What each URL action is called in the state machine of server/queueing/machine.py.
MACHINE_ACTION = {
    "call-next": "call_next",
    "recall": "recall",
    "start": "start",
    "complete": "complete",
    "no-show": "no_show",
    "transfer": "transfer",
    "pause": "pause",
    "resume": "resume",
    "request-help": "request_help",
    "close": "close",
    "hold": "hold",
    "call": "call",
    "undo": "undo_complete",  # (undo_no_show starts from the same state)
}
ALLOWED_FROM = {url: {state.value for state in COUNTER_ACTIONS[name][0]} for url, name in MACHINE_ACTION.items()}
TICKET_ACTIONS = ("recall", "start", "complete", "no-show", "transfer", "hold")
ERROR_STATUSES = {403, 404, 409, 422}

MAX_WAITING = 12  # past this, an "issue" step serves instead: a queue that only grows tests little

# What a step does: "next" is what the counter would naturally do now, "detour" one of the other
# things it may do now (which one: the variant); "issue" and "advance" are the kiosk's and the clock's;
# the rest are asked for whatever the counter's state.
KINDS = st.sampled_from([
    "next", "issue", "next", "detour", "late", "next", "detour", "issue", "next", "advance",
    "transfer", "call-next", "start", "complete", "recall", "no-show", "pause", "resume", "request-help",
    "close", "open", "hold", "call", "undo", "return", "cancel", "priority", "oops",
])
# (counter number, "ready"): when ready, the first counter from that number on where the action is
# possible; otherwise exactly that counter (9 does not exist).
COUNTERS = st.sampled_from([(1, True), (2, True), (3, True), (4, True), (1, False), (2, False), (3, False),
                            (4, False), (UNKNOWN_COUNTER, False)])
# "own" is whoever sits at the counter; the others are often somebody else, or not staff at all.
PEOPLE = st.sampled_from(["own", "own", "own", "own", "own", "own", *STAFF, "kiosk"])
OUTCOMES = st.sampled_from(["done", "redo", "error", "done", "perfect"])
SERVICES = st.sampled_from(["C", "A", "B", "D", "A", "B", "Z"])
PAUSE_CHOICES = st.sampled_from([*PAUSE_REASONS, "nap"])
VARIANTS = st.integers(0, 5)
ISSUERS = ("kiosk", "kiosk2", "manager", "display", "kiosk", "teller2")  # by variant
NO_SHOW_GRACE_S = 60  # [queue] no_show_grace_s
UNDO_WINDOW_S = 60  # [queue] undo_window_s
SECONDS = st.sampled_from([45, 300, 3600, 6 * 3600, 5, 0])
STEPS = st.tuples(KINDS, COUNTERS, PEOPLE, OUTCOMES, SERVICES, PAUSE_CHOICES, VARIANTS, SECONDS)
Step = tuple[str, tuple[int, bool], str, str, str, str, int, int]


# --- the reference model ---------------------------------------------------------------------------


@dataclass
class ModelCounter:
    services: list[str]
    state: str = CounterState.CLOSED.value
    staff: str | None = None
    pause_reason: str | None = None
    help: bool = False
    undo: tuple[int, str, datetime] | None = None  # (ticket id, "complete" | "no-show", when)


@dataclass
class ModelTicket:
    id: int
    number: str
    day: date
    service: str
    status: str = TicketStatus.WAITING.value
    counter: int | None = None
    outcome: str | None = None
    issued: datetime | None = None
    ahead: int = 0  # waiting tickets of its service ahead of it at issue
    token: str = ""
    priority: bool = False
    returned: float | None = None  # when it came back (a no-show), while it waits: POSIX seconds
    called: datetime | None = None  # its first call since it last waited


@dataclass(frozen=True)
class Risk:
    """What makes a waiting ticket at risk under the at_risk_first call order (None under fifo)."""

    max_ahead: int
    after_s: float
    line_s: float


class BranchModel:
    """What the branch should look like, and what each request should answer."""

    def __init__(self, counters: dict[int, list[str]], services: dict[str, float], start: datetime, tz: Any,
                 risk: Risk | None = None, hours: Hours | None = None) -> None:
        self.counters = {number: ModelCounter(list(codes)) for number, codes in counters.items()}
        self.services = list(services)
        self.minutes = services  # expected minutes per service code
        self.tickets: dict[int, ModelTicket] = {}
        self.now = start
        self.tz = tz
        self.last_sequence: dict[tuple[str, date], int] = {}
        self.risk = risk
        self.hours = hours

    @property
    def day(self) -> date:
        return self.now.astimezone(self.tz).date()

    def waiting(self) -> int:
        return sum(t.status == TicketStatus.WAITING.value for t in self.tickets.values())

    def counter_of(self, who: str) -> int | None:
        return next((n for n, c in self.counters.items() if c.staff == who), None)

    def current_ticket(self, number: int) -> ModelTicket | None:
        active = (TicketStatus.CALLED.value, TicketStatus.SERVING.value)
        return next((t for t in self.tickets.values() if t.counter == number and t.status in active), None)

    def next_ticket(self, number: int) -> ModelTicket | None:
        """The ticket call-next should pick, by the call order of server/queueing/policy.py: the
        first waiting ticket of the counter's first service that has one, oldest first; but under the
        default at_risk_first policy, services with an at-risk ticket (``at_risk_services``, read from
        the alert store) go first, the shortest service (expected minutes) first. Within a service,
        always issue order.

        Issue times never decrease with the id (the clock only moves forward), so the id order is the
        issue-time order the service promises, also for tickets that came back by transfer."""
        ranks = policy.service_ranks(self.counters[number].services, self.at_risk_services(), self.minutes)
        waiting = [self.as_waiting(t) for t in self.tickets.values() if t.status == TicketStatus.WAITING.value]
        picked = policy.next_ticket(waiting, ranks, number)
        return self.tickets[picked.id] if picked is not None else None

    @staticmethod
    def as_waiting(ticket: ModelTicket) -> policy.Waiting:
        """The ticket in the call order: returned no-shows first in the order they came back (then
        by id), then priority customers and then the others in issue order, which is the id's (the
        lane comes before the time, so a return time and an id are never compared)."""
        lane = policy.lane(priority=ticket.priority, returned=ticket.returned is not None)
        return policy.Waiting(ticket.id, ticket.service, float(ticket.returned if ticket.returned is not None
                                                               else ticket.id), lane)

    def at_risk_services(self) -> set[str]:
        """The services with a ticket :func:`server.queueing.policy.at_risk` says is at risk."""
        if self.risk is None:
            return set()
        return {t.service for t in self.tickets.values()
                if t.status == TicketStatus.WAITING.value and t.issued is not None
                and policy.at_risk(t.ahead, (self.now - t.issued).total_seconds(), max_ahead=self.risk.max_ahead,
                                   after_s=self.risk.after_s, line_s=self.risk.line_s)}

    def expect_issue(self, who: str, service: str) -> tuple[int, str | None]:
        if who not in ("kiosk", "kiosk2", *STAFF):
            return 403, "kiosk_only"
        if service not in self.services:
            return 422, "unknown_service"
        if self.hours is not None and not hours_now(self.hours, self.now).issuing:
            return 409, "branch_closed"
        return 201, None

    def close_the_day(self) -> None:
        """After closing (the clock moved past it), what still waits is cancelled; what is held stays
        for its teller until the branch opens on a later day."""
        if self.hours is None:
            return
        hours = hours_now(self.hours, self.now)
        for ticket in self.tickets.values():
            if ((ticket.status == TicketStatus.WAITING.value and hours.state == "closed")
                    or (ticket.status in (TicketStatus.WAITING.value, TicketStatus.HELD.value)
                        and hours.serving and ticket.day < self.day)):
                ticket.status, ticket.returned = TicketStatus.CANCELLED.value, None

    def expect_counter_action(self, number: int, action: str, who: str, body: dict[str, Any]) -> tuple[int, str | None]:
        """``(status, error code)`` the API should answer. The order of the checks is the contract's:
        who you are, whether the body is valid, which counter, whether it is yours, its state."""
        if who not in STAFF:
            return 403, "staff_only"
        if action == "complete" and body["outcome"] not in Outcome.__members__.values():
            return 422, "invalid_field"
        if action == "pause" and body["reason"] not in PAUSE_REASONS:
            return 422, "invalid_field"
        counter = self.counters.get(number)
        if counter is None:
            return 404, "unknown_counter"
        if action == "open":
            if counter.staff == who:
                return 200, None  # opening one's own open counter again changes nothing
            if counter.state != CounterState.CLOSED.value:
                return 409, "counter_taken"
            if self.counter_of(who) is not None:
                return 409, "already_signed_in"
            return 200, None
        if who not in MANAGERS and counter.staff != who:
            return 403, "not_your_counter"
        if action == "undo":
            return self.expect_undo(counter)
        if counter.state not in ALLOWED_FROM[action]:
            return 409, "invalid_transition"
        if action == "call-next" and self.next_ticket(number) is None:
            return 404, "queue_empty"
        if action == "call":
            chosen = self.tickets.get(body["ticket"])
            if chosen is None:
                return 404, "unknown_ticket"
            if chosen.status not in (TicketStatus.WAITING.value, TicketStatus.HELD.value):
                return 409, "not_waiting"
            if chosen.service not in counter.services:
                return 403, "not_your_service"
        if action == "no-show":
            current = self.current_ticket(number)
            assert current is not None and current.called is not None
            if (self.now - current.called).total_seconds() < NO_SHOW_GRACE_S:
                return 409, "too_early"
        if action == "transfer":
            if body["service"] not in self.services:
                return 422, "unknown_service"
            current = self.current_ticket(number)
            assert current is not None
            if body["service"] == current.service:
                return 422, "same_service"
        return 200, None

    def expect_undo(self, counter: ModelCounter) -> tuple[int, str | None]:
        if counter.undo is None or counter.state != CounterState.IDLE.value:
            return 409, "nothing_to_undo"
        if (self.now - counter.undo[2]).total_seconds() > UNDO_WINDOW_S:
            return 409, "undo_expired"
        return 200, None

    def expect_return(self, ticket: ModelTicket | None, who: str) -> tuple[int, str | None]:
        if who not in STAFF:
            return 403, "staff_only"
        if ticket is None:
            return 404, "unknown_ticket"
        if ticket.status != TicketStatus.NO_SHOW.value:
            return 409, "not_no_show"
        if (self.hours is not None and not hours_now(self.hours, self.now).serving) or ticket.day != self.day:
            return 409, "branch_closed"
        return 200, None

    def apply_return(self, ticket: ModelTicket, answer: dict[str, Any]) -> None:
        ticket.status, ticket.counter, ticket.called = TicketStatus.WAITING.value, None, None
        ticket.returned = self.now.timestamp()
        for counter in self.counters.values():  # the customer is back: their no-show is no longer undone
            if counter.undo is not None and counter.undo[0] == ticket.id:
                counter.undo = None
        assert (answer["status"], answer["position"]) == ("waiting", self.position(ticket)), answer

    def position(self, ticket: ModelTicket) -> int:
        """Its place in its service's queue (1 = next): the order of server/queueing/policy.py."""
        mine = policy.queue_key(self.as_waiting(ticket))
        return 1 + sum(1 for t in self.tickets.values() if t.status == TicketStatus.WAITING.value
                       and t.service == ticket.service and policy.queue_key(self.as_waiting(t)) < mine)

    def is_no_op(self, number: int, action: str, who: str) -> bool:
        counter = self.counters[number]
        return (action == "open" and counter.staff == who) or (action == "request-help" and counter.help)

    def apply_issue(self, answer: dict[str, Any]) -> None:
        key = (answer["service"], self.day)
        self.last_sequence[key] = self.last_sequence.get(key, 0) + 1
        assert answer["number"] == format_number(answer["service"], self.last_sequence[key]), answer
        assert answer["business_day"] == self.day.isoformat()
        assert answer["status"] == TicketStatus.WAITING.value
        priority = bool(answer["priority"])
        ahead = sum(1 for t in self.tickets.values()
                    if t.status == TicketStatus.WAITING.value and t.service == answer["service"]
                    and (not priority or policy.queue_key(self.as_waiting(t))[0] <= policy.PRIORITY))
        assert answer["people_ahead"] == ahead, answer
        ticket = ModelTicket(answer["id"], answer["number"], self.day, answer["service"], issued=self.now, ahead=ahead,
                             token=answer["token"], priority=priority)
        self.tickets[answer["id"]] = ticket
        assert answer["position"] == self.position(ticket), answer

    def apply_counter_action(
        self, number: int, action: str, who: str, body: dict[str, Any], answer: dict[str, Any]
    ) -> None:
        """Move the model on after a successful action, checking the answer on the way."""
        counter = self.counters[number]
        if action == "open":
            counter.state, counter.staff = CounterState.IDLE.value, who
        elif action in ("call-next", "call"):
            ticket = self.next_ticket(number) if action == "call-next" else self.tickets[body["ticket"]]
            assert ticket is not None
            assert (answer["number"], answer["status"], answer["counter"]) == (ticket.number, "called", number), (
                f"counter {number} called {answer['number']}, expected {ticket.number}"
            )
            if ticket.status == TicketStatus.WAITING.value:  # a held ticket called back keeps its first call
                ticket.called = self.now
            ticket.status, ticket.counter, ticket.returned = TicketStatus.CALLED.value, number, None
            counter.state = CounterState.CALLING.value
        elif action == "undo":
            assert counter.undo is not None
            ticket = self.tickets[counter.undo[0]]
            assert answer["id"] == ticket.id, answer
            if counter.undo[1] == "complete":
                ticket.status, ticket.outcome = TicketStatus.SERVING.value, None
                counter.state = CounterState.SERVING.value
            else:
                ticket.status, counter.state = TicketStatus.CALLED.value, CounterState.CALLING.value
            assert answer["status"] == ticket.status
        elif action in TICKET_ACTIONS:
            ticket = self.current_ticket(number)
            assert ticket is not None and answer["id"] == ticket.id, (answer, ticket)
            if action == "start":
                ticket.status, counter.state = TicketStatus.SERVING.value, CounterState.SERVING.value
            elif action == "complete":
                ticket.status, ticket.outcome = TicketStatus.DONE.value, body["outcome"]
            elif action == "no-show":
                ticket.status = TicketStatus.NO_SHOW.value
            elif action == "transfer":
                ticket.status, ticket.service, ticket.counter = TicketStatus.WAITING.value, body["service"], None
                ticket.called = None
            elif action == "hold":
                ticket.status = TicketStatus.HELD.value
            if action in ("complete", "no-show", "transfer", "hold"):
                counter.state, counter.help = CounterState.IDLE.value, False
            assert answer["status"] == ticket.status
        elif action == "pause":
            counter.state, counter.pause_reason = CounterState.PAUSED.value, body["reason"]
        elif action == "resume":
            counter.state, counter.pause_reason = CounterState.IDLE.value, None
        elif action == "request-help":
            counter.help = True
        elif action == "close":
            counter.state, counter.staff, counter.pause_reason = CounterState.CLOSED.value, None, None
        # Only the counter's latest complete or no-show may be undone, and only until it does anything else.
        counter.undo = (answer["id"], action, self.now) if action in ("complete", "no-show") else None
        if action not in TICKET_ACTIONS and action not in ("call-next", "call", "undo"):
            assert answer["state"] == counter.state, (answer, counter)
            assert (answer["staff"] or {}).get("username") == counter.staff


# --- reading the database --------------------------------------------------------------------------


def snapshot(rt: Any) -> dict[str, Any]:
    """Every row the queue consists of, as plain tuples, to compare before and after a request."""
    with rt.reading() as session:
        def rows(model: Any) -> list[tuple[Any, ...]]:
            columns = list(model.__table__.columns)
            order = list(model.__table__.primary_key.columns)
            return [tuple(row) for row in session.execute(select(*columns).order_by(*order))]

        return {model.__tablename__: rows(model) for model in (Ticket, Counter, Event, TicketSequence, Alert)}


# --- the state machine -----------------------------------------------------------------------------


class RandomBranchDay(RuleBasedStateMachine):
    """One example: a fresh database, a fresh app, and random requests against them."""

    template: Template
    make_database: Any  # () -> (url, drop)

    def __init__(self) -> None:
        super().__init__()
        url, self.drop_database = self.make_database()
        self.app = create_app(TEST_CONFIG, server={"database_url": url})
        self.rt = self.app.extensions["callwise"]
        self.api = Api(self.app.test_client(), self.template.tokens)
        config = self.rt.config
        self.model = BranchModel(
            {counter.number: list(counter.services) for counter in config.counters},
            {service.code: service.expected_minutes for service in config.services},
            self.rt.clock.now(),
            config.tz,
            Risk(config.alerts.short_queue_max_ahead, config.queue.at_risk_after_s,
                 config.alerts.short_queue_complaint_s) if config.queue.policy == "at_risk_first" else None,
            config.hours,
        )

    def teardown(self) -> None:
        self.rt.db.dispose()
        self.drop_database()

    def send(self, path: str, who: str, body: dict[str, Any] | None, expected: tuple[int, str | None],
             no_op: bool = False) -> dict[str, Any]:
        """Send one request, checking its answer against ``expected``; an error must change nothing."""
        # Only what should change nothing needs a before-and-after (a wrong expectation fails below anyway).
        before = snapshot(self.rt) if expected[0] >= 400 or no_op else None
        response = self.api.post(path, who=who, json=body)
        answer = response.get_json()
        status = response.status_code
        assert status in {200, 201} | ERROR_STATUSES, (path, who, body, status, answer)
        if status >= 400:
            error = answer["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
        assert (status, answer["error"]["code"] if status >= 400 else None) == expected, (
            f"POST {path} by {who} with {body}: got {status} {answer}, expected {expected}"
        )
        if before is not None:
            assert snapshot(self.rt) == before, f"POST {path} by {who} answered {status} but changed the database"
        return answer

    # One rule, whose first element says what kind of step it is. Hypothesis leans towards the first
    # of a list's choices and often repeats a step, so the lists are weighted by repetition and the
    # productive choices come first: "next" (whatever the counter would naturally do now), "ready"
    # counters (the first, from the drawn one, where the action is possible) and "own" people
    # (whoever sits there). Mistakes — a stranger at a counter, an unknown service, a display issuing
    # tickets, a bad outcome — come later in each list, so they are tried too, only less.

    @initialize(
        left_closed=st.lists(st.sampled_from([1, 2, 3, 4]), unique=True, max_size=3),
        queue=st.lists(st.sampled_from(["A", "B", "C", "D"]), max_size=8),
    )
    def the_branch_opens(self, left_closed: list[int], queue: list[str]) -> None:
        """Most counters start open, with a few customers waiting."""
        for number in sorted(set(self.model.counters) - set(left_closed)):
            self.counter_action(number, "open", "own")
        for service in queue:
            self.issue_ticket("kiosk", service)

    @rule(step=STEPS)
    def step(self, step: Step) -> None:
        kind, (number, ready), who, outcome, service, reason, variant, seconds = step
        if kind == "issue" and self.model.waiting() >= MAX_WAITING:
            kind = "next"  # a long enough queue: serve it rather than grow it
        if kind == "next" and self.model.waiting() == 0 and variant < 3:
            kind = "issue" if variant else "priority"  # nobody waits: somebody comes in
        if kind in ("issue", "priority"):
            self.issue_ticket(ISSUERS[variant], service, priority=kind == "priority")
        elif kind == "oops":
            self.wrong_outcome(number, outcome, variant)
        elif kind == "late":
            self.late_customer(number, variant)
        elif kind == "cancel":
            self.cancel_from_the_phone(variant)
        elif kind == "return":
            self.return_a_no_show(variant, "teller1" if who == "own" else who)
        elif kind == "advance":
            self.advance_clock(seconds, "teller1" if who == "kiosk" else "manager")
        else:
            action = kind
            if kind in ("next", "detour"):
                if ready:
                    number = self.counter_with_work(number, busy_first=kind == "detour")
                action = self.natural_step(number, detour=kind == "detour", variant=variant)
            elif ready:
                number = self.ready_counter(number, action)
            body = {"complete": {"outcome": outcome}, "transfer": {"service": service}, "pause": {"reason": reason},
                    "hold": {"note": f"back in {variant} minutes"}, "call": {"ticket": self.chosen(number, variant)}}
            self.counter_action(number, action, who, body.get(action))

    def issue_ticket(self, who: str, service: str, priority: bool = False) -> None:
        expected = self.model.expect_issue(who, service)
        answer = self.send("/tickets", who, {"service": service, "priority": priority}, expected)
        if expected[0] == 201:
            self.model.apply_issue(answer)

    def chosen(self, number: int, variant: int) -> int:
        """A ticket for ``call``: mostly one the counter may call (a held one first), sometimes any."""
        counter = self.model.counters.get(number)
        services = counter.services if counter is not None else []
        line = (TicketStatus.HELD.value, TicketStatus.WAITING.value)
        mine = sorted((t for t in self.model.tickets.values() if t.status in line and t.service in services),
                      key=lambda t: (t.status != TicketStatus.HELD.value, -t.id))
        if mine and variant < 4:
            return mine[variant % len(mine)].id
        others = sorted(self.model.tickets)
        return others[variant % len(others)] if others and variant < 5 else 99_999

    def late_customer(self, number: int, variant: int) -> None:
        """A called customer does not come within the grace: the no-show is recorded once it has
        passed (early, it is refused), and mostly the customer turns up a little later."""
        number = self.ready_counter(number, "no-show")
        if self.model.counters.get(number) is None or self.model.counters[number].state != CounterState.CALLING.value:
            return
        if variant > 0:
            self.advance_clock(NO_SHOW_GRACE_S, "manager")
        self.counter_action(number, "no-show", "own")
        gone = self.model.current_ticket(number) is None
        if gone and variant < 4:
            self.return_a_no_show(0, "own" if variant % 2 else "manager")
        elif gone and variant == 4:  # the wrong key: it was the customer at the counter after all
            self.counter_action(number, "undo", "own")

    def wrong_outcome(self, number: int, outcome: str, variant: int) -> None:
        """A teller finishes a customer with a key and undoes it (at once, or too late), then finishes again."""
        number = self.ready_counter(number, "complete")
        if self.model.counters.get(number) is None or self.model.counters[number].state != CounterState.SERVING.value:
            return
        self.counter_action(number, "complete", "own", {"outcome": outcome})
        if variant == 5:
            self.advance_clock(UNDO_WINDOW_S + 1, "manager")
        self.counter_action(number, "undo", "own" if variant % 2 else "manager")
        if self.model.counters[number].state == CounterState.SERVING.value:
            self.counter_action(number, "complete", "own", {"outcome": "done"})

    def cancel_from_the_phone(self, variant: int) -> None:
        """A customer leaves the queue (mostly one still waiting; sometimes one already called or done)."""
        tickets = sorted(self.model.tickets.values(), key=lambda t: (t.status != TicketStatus.WAITING.value, t.id))
        if not tickets:
            return
        ticket = tickets[variant % len(tickets)]
        in_line = ticket.status in (TicketStatus.WAITING.value, TicketStatus.HELD.value)
        expected: tuple[int, str | None] = (200, None) if in_line else (409, "not_waiting")
        answer = self.send(f"/tickets/{ticket.token}/cancel", "kiosk", None, expected)
        if in_line:
            ticket.status, ticket.returned = TicketStatus.CANCELLED.value, None
            assert (answer["status"], answer["cancel_reason"]) == ("cancelled", "customer")

    def return_a_no_show(self, variant: int, who: str) -> None:
        """A no-show comes back (mostly a real one; sometimes a ticket that is not, or none)."""
        gone = sorted((t for t in self.model.tickets.values() if t.status == TicketStatus.NO_SHOW.value),
                      key=lambda t: -t.id)
        others = sorted(self.model.tickets)
        ticket_id = (gone[variant % len(gone)].id if gone and variant < 4 else
                     others[variant % len(others)] if others and variant < 5 else 99_999)
        ticket = self.model.tickets.get(ticket_id)
        who = self.resolve(who, number=ticket.counter or 0 if ticket is not None else 0)
        expected = self.model.expect_return(ticket, who)
        answer = self.send(f"/tickets/{ticket_id}/return", who, None, expected)
        if expected[0] == 200:
            assert ticket is not None
            self.model.apply_return(ticket, answer)

    def advance_clock(self, seconds: int, who: str) -> None:
        if who not in MANAGERS:
            expected: tuple[int, str | None] = (403, "wrong_role")
        elif seconds <= 0:
            expected = (422, "invalid_field")
        else:
            expected = (200, None)
        answer = self.send("/clock/advance", who, {"seconds": seconds}, expected)
        if expected[0] == 200:
            self.model.now += timedelta(seconds=seconds)
            assert datetime.fromisoformat(answer["now"]) == self.model.now
            self.model.close_the_day()

    def natural_step(self, number: int, *, detour: bool, variant: int) -> str:
        """What the counter would naturally do next, or (``detour``) one of the other things it may do now."""
        state = self.model.counters[number].state if number in self.model.counters else "closed"
        if not detour:
            return {"closed": "open", "idle": "call-next", "calling": "start", "serving": "complete",
                    "paused": "resume"}[state]
        return {
            "closed": ["open"] * 6,
            "idle": ["pause", "close", "undo", "call-next", "call", "undo"],
            "calling": ["recall", "transfer", "request-help", "no-show", "hold", "no-show"],
            "serving": ["transfer", "request-help", "hold", "complete", "transfer", "complete"],
            "paused": ["resume", "close", "resume", "close", "resume", "close"],
        }[state][variant]

    def counter_with_work(self, number: int, *, busy_first: bool) -> int:
        """From ``number`` on, the first counter with something to do: not idle in front of an empty
        queue and (``busy_first``, when there is one) calling or serving a customer."""
        ring = self.ring(number)
        busy = [n for n in ring if self.model.counters[n].state in ("calling", "serving")]
        if busy_first and busy:
            return busy[0]
        for candidate in ring:
            counter = self.model.counters[candidate]
            if counter.state != CounterState.IDLE.value or self.model.next_ticket(candidate) is not None:
                return candidate
        return number

    def ready_counter(self, number: int, action: str) -> int:
        """From ``number`` on, the first counter whose state allows ``action``."""
        allowed = {CounterState.CLOSED.value} if action == "open" else ALLOWED_FROM[action]
        return next((n for n in self.ring(number) if self.model.counters[n].state in allowed), number)

    def ring(self, number: int) -> list[int]:
        if number not in self.model.counters:
            return []
        numbers = sorted(self.model.counters)
        return [n for n in numbers if n >= number] + [n for n in numbers if n < number]

    def resolve(self, who: str, number: int) -> str:
        """``"own"``: whoever sits at the counter, or when it is closed a teller free to open it."""
        if who != "own":
            return who
        counter = self.model.counters.get(number)
        if counter is not None and counter.staff is not None:
            return counter.staff
        free = [name for name in TELLERS if self.model.counter_of(name) is None]
        return f"teller{number}" if f"teller{number}" in free else (free or ["teller1"])[0]

    def counter_action(self, number: int, action: str, who: str, body: dict[str, Any] | None = None) -> None:
        who = self.resolve(who, number)
        expected = self.model.expect_counter_action(number, action, who, body or {})
        no_op = expected[0] == 200 and self.model.is_no_op(number, action, who)
        answer = self.send(f"/counters/{number}/{action}", who, body, expected, no_op=no_op)
        if expected[0] == 200 and not no_op:
            self.model.apply_counter_action(number, action, who, body or {}, answer)

    # What must hold after every step.

    @invariant()
    def the_tables_are_consistent_and_the_log_replays_to_them(self) -> None:
        with self.rt.reading() as session:
            self.check_database(session)

    def check_database(self, session: Any) -> None:
        tickets = list(session.scalars(select(Ticket).order_by(Ticket.id)))
        counters = list(session.scalars(select(Counter).order_by(Counter.number)))
        services = {s.id: s.code for s in session.scalars(select(Service))}
        usernames = {s.id: s.username for s in session.scalars(select(Staff))}
        sequences = {(row.service_id, row.business_day): row.last_number
                     for row in session.scalars(select(TicketSequence))}
        events = [
            LoggedChange(row.entity, row.entity_id, row.action, row.from_state, row.to_state)
            for row in session.scalars(select(Event).order_by(Event.id))
        ]
        check_counters_and_tickets(counters, tickets)
        check_numbers(tickets, services, sequences)

        replayed = replay(events)
        in_tables = {("ticket", t.id): t.status for t in tickets}
        in_tables |= {("counter", c.id): c.state for c in counters if ("counter", c.id) in replayed}
        assert replayed == in_tables
        assert all(c.state == CounterState.CLOSED.value for c in counters if ("counter", c.id) not in replayed)

        # And the tables are what the model says they should be.
        counter_numbers = {counter.id: counter.number for counter in counters}
        for counter in counters:
            expected = self.model.counters[counter.number]
            actual = (counter.state, usernames.get(counter.staff_id), counter.pause_reason,
                      counter.help_requested_at is not None)
            assert actual == (expected.state, expected.staff, expected.pause_reason, expected.help), counter.number
        assert [t.id for t in tickets] == sorted(self.model.tickets)
        for ticket in tickets:
            expected_ticket = self.model.tickets[ticket.id]
            actual_ticket = (ticket.number, ticket.business_day, services[ticket.service_id], ticket.status,
                             counter_numbers.get(ticket.counter_id), ticket.outcome)
            assert actual_ticket == (expected_ticket.number, expected_ticket.day, expected_ticket.service,
                                     expected_ticket.status, expected_ticket.counter, expected_ticket.outcome)


def check_counters_and_tickets(counters: list[Counter], tickets: list[Ticket]) -> None:
    """States are valid and agree with each other, whatever happened before."""
    counter_states = {state.value for state in CounterState}
    ticket_statuses = {status.value for status in TicketStatus}
    for counter in counters:
        assert counter.state in counter_states
        active = [t for t in tickets if t.counter_id == counter.id and t.status in ("called", "serving")]
        if counter.state == CounterState.CALLING.value:
            assert [t.status for t in active] == ["called"], (counter.number, counter.state, active)
        elif counter.state == CounterState.SERVING.value:
            assert [t.status for t in active] == ["serving"], (counter.number, counter.state, active)
        else:
            assert active == [], (counter.number, counter.state, [t.number for t in active])
        closed = counter.state == CounterState.CLOSED.value
        assert (counter.staff_id is None) == closed, (counter.number, counter.state, counter.staff_id)
        assert (counter.pause_reason is not None) == (counter.state == CounterState.PAUSED.value)
        if counter.help_requested_at is not None:
            assert counter.state in (CounterState.CALLING.value, CounterState.SERVING.value)
    staffed = [c.staff_id for c in counters if c.staff_id is not None]
    assert len(staffed) == len(set(staffed)), "someone is signed in at two counters"
    for ticket in tickets:
        assert ticket.status in ticket_statuses
        if ticket.status == TicketStatus.WAITING.value:
            assert ticket.counter_id is None and ticket.called_at is None and ticket.finished_at is None
        if ticket.status in (TicketStatus.CALLED.value, TicketStatus.SERVING.value):
            assert ticket.counter_id is not None and ticket.called_at is not None
        if ticket.status == TicketStatus.SERVING.value:
            assert ticket.served_at is not None
        if ticket.status == TicketStatus.DONE.value:
            assert ticket.outcome in Outcome.__members__.values() and ticket.finished_at is not None
        if ticket.status == TicketStatus.NO_SHOW.value:
            assert ticket.finished_at is not None


def check_numbers(tickets: list[Ticket], services: dict[int, str], sequences: dict[tuple[int, date], int]) -> None:
    """Numbers are unique per business day, and each service's are 001, 002, ... with no gap."""
    numbers = [(t.business_day, t.number) for t in tickets]
    assert len(numbers) == len(set(numbers)), "a number was given twice on one day"
    by_service_day: dict[tuple[int, date], list[int]] = {}
    for ticket in tickets:
        assert ticket.number == format_number(services[ticket.original_service_id], ticket.sequence)
        by_service_day.setdefault((ticket.original_service_id, ticket.business_day), []).append(ticket.sequence)
    for key, taken in by_service_day.items():
        assert sorted(taken) == list(range(1, len(taken) + 1)), (key, sorted(taken))
        assert sequences[key] == len(taken)
    assert set(sequences) == set(by_service_day)


# --- running it on each backend ----------------------------------------------------------------------


def sqlite_databases(template: Template, folder: Path) -> Any:
    source = Path(template.url.removeprefix("sqlite:///"))

    def make() -> tuple[str, Any]:
        target = folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(source, target)

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{target}", drop

    return make


def postgres_databases(admin_url: str, template: Template) -> Any:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def make() -> tuple[str, Any]:
        name = f"p_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {template.database}"))

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

        return with_database(admin_url, name), drop

    return make, admin


# Each example costs about a second (a database, an app, fifty requests), so shrinking a failure can
# take many minutes. By default a failure is reported as found, with every step listed and the
# failing request named in the message; CALLWISE_SHRINK=1 asks Hypothesis for the shortest example.
PHASES = tuple(Phase) if os.environ.get("CALLWISE_SHRINK") else tuple(p for p in Phase if p != Phase.shrink)
COMMON = dict(deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])
# SQLite is the default deployment and gets the long run; PostgreSQL a short one for dialect differences.
RUNS = {
    "sqlite": settings(max_examples=16, stateful_step_count=50, **COMMON),
    "postgresql": settings(max_examples=3, stateful_step_count=40, **COMMON),
}


def test_any_sequence_of_requests_keeps_the_queue_consistent_and_replayable(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    admin = None
    if backend == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        make_database = sqlite_databases(template, tmp_path)
    else:
        template = request.getfixturevalue("pg_template")
        make_database, admin = postgres_databases(pg_admin_url(request.getfixturevalue("pg_cluster")), template)

    class Day(RandomBranchDay):
        pass

    Day.template = template
    Day.make_database = staticmethod(make_database)
    try:
        run_state_machine_as_test(Day, settings=RUNS[backend])
    finally:
        if admin is not None:
            admin.dispose()
