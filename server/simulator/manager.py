"""The lobby manager, simulated as one person.

One person does one thing at a time. Alert cards (with alerts) and help requests (always: a teller's
page is a phone call) join a queue of pending reactions, the most urgent first — help requests,
then critical cards, then warnings, then the next round of the hall — oldest first within each
(:class:`ReactionQueue`). Whether the manager reacts to a card at all is drawn once per alert.
Every reaction takes time (read the card, decide, send the instruction or walk over and say it;
help on the spot takes a walk and the authorization itself), and the manager is busy for all of it.

The manager acts only as a real one can: through the instructions and counter actions of the API
(an instruction the teller answers, "on my way" and "done" to a help request, a word to a teller in
the back office to open a reserve counter), and sees only what a real one sees: the cards (with
their ``action``: who should do what, where, when the alert engine gives one), the dashboard's
counters (state, since when, pause reason, help request) and the waiting counts. Never the
simulator's hidden state: when a transaction would end, who will not show up, how long a pause
was meant to last.

Every few minutes the manager walks the hall, in both variants, and acts on what the hall shows
(:func:`round_plan`): a teller sitting free while people wait for their services, a break going on
while the hall is full, a long queue when a reserve counter could open. ``mode="walk"`` is the
same person without alerts: rounds and help requests only.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Priorities in the manager's queue, most urgent first.
HELP, CRITICAL, WARNING, ROUND = 0, 1, 2, 3
# Pause reasons a manager does not cut: the teller is away (lunch), expected elsewhere (a meeting)
# or in the middle of something that must be finished (cash replenishment).
NOT_CUT = ("lunch", "meeting", "cash_replenish")
# A teller free this long while people wait for them is visibly idle on a round of the hall (under
# it, about to call); on the dashboard, which shows since when, a shorter look will do.
IDLE_SEEN_S = 60.0
IDLE_ON_DASHBOARD_S = 30.0
# The hall is full when at least this many wait per counter at work, and at least FULL_MIN in all.
FULL_PER_COUNTER = 2.0
FULL_MIN = 6


# The instruction that carries out an action without one named.
INSTRUCTION_FOR = {"ask_to_call": "call_next", "end_pause": "end_pause", "serve_ticket": "serve_ticket"}


@dataclass(order=True)
class Pending:
    """A reaction the manager has yet to get to."""

    priority: int
    since: float  # when it joined the queue (kept through an escalation)
    order: int
    kind: str = field(compare=False)  # "help", "alert" or "round"
    alert: dict[str, Any] | None = field(compare=False, default=None)
    key: Any = field(compare=False, default=None)
    dropped: bool = field(compare=False, default=False)


class ReactionQueue:
    """Pending reactions, the most urgent first (lowest priority number), then the oldest. One entry
    per key (an alert): pushing it again with a more urgent priority moves it up, keeping the time it
    joined; a less urgent push only refreshes what it carries."""

    def __init__(self) -> None:
        self._heap: list[Pending] = []
        self._order = itertools.count()
        self._by_key: dict[Any, Pending] = {}

    def push(self, kind: str, priority: int, since: float, alert: dict[str, Any] | None = None,
             key: Any = None) -> bool:
        """Queue a reaction; False when ``key`` was already queued (then it may move up)."""
        queued = self._by_key.get(key) if key is not None else None
        if queued is not None:
            if priority < queued.priority:
                queued.dropped = True
                moved = Pending(priority, queued.since, next(self._order), kind, alert or queued.alert, key)
                self._by_key[key] = moved
                heapq.heappush(self._heap, moved)
            elif alert is not None:
                queued.alert = alert
            return False
        entry = Pending(priority, since, next(self._order), kind, alert, key)
        if key is not None:
            self._by_key[key] = entry
        heapq.heappush(self._heap, entry)
        return True

    def pop(self) -> Pending | None:
        while self._heap:
            entry = heapq.heappop(self._heap)
            if entry.dropped:
                continue
            if entry.key is not None:
                del self._by_key[entry.key]
            return entry
        return None

    def __contains__(self, key: Any) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return sum(1 for entry in self._heap if not entry.dropped)


# --- what the manager sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterSeen:
    """One counter as the dashboard (or a look across the hall) shows it."""

    number: int
    state: str  # closed | idle | calling | serving | paused
    since_s: float  # in that state since (seconds on the simulation's time line)
    services: tuple[str, ...]
    pause_reason: str | None = None
    help: str | None = None  # None, "waiting" or "on_my_way"
    reserve: bool = False  # closed, with a teller in the back office who could open it


@dataclass(frozen=True)
class Hall:
    now: float
    counters: tuple[CounterSeen, ...]
    waiting: dict[str, int]  # people waiting per service code

    def counter(self, number: int | None) -> CounterSeen | None:
        return next((c for c in self.counters if c.number == number), None)

    def waiting_for(self, counter: CounterSeen) -> int:
        return sum(self.waiting.get(code, 0) for code in counter.services)

    @property
    def full(self) -> bool:
        at_work = sum(1 for c in self.counters if c.state in ("idle", "calling", "serving"))
        total = sum(self.waiting.values())
        return total >= max(FULL_MIN, FULL_PER_COUNTER * max(1, at_work))


@dataclass(frozen=True)
class Step:
    """One thing the manager does: ``instruct`` a counter (``kind``, maybe ``ticket``), ``open`` a
    reserve counter, ``help`` at a counter, or ``look`` (go and see, nothing to say)."""

    what: str
    counter: int | None = None
    kind: str | None = None
    ticket: int | None = None


def service_of_label(label: str) -> str | None:
    """The service code a ticket number starts with (``A012`` -> ``A``), as a person reads it."""
    found = re.match(r"[A-Z]+", label or "")
    return found.group(0) if found else None


def more_hands(hall: Hall, code: str | None, ticket: int | None = None) -> Step | None:
    """Somebody to serve ``code``'s queue: a free teller who may serve it calls; else a break ends;
    else a reserve counter opens. None when every counter for it is busy or away."""
    if code is None:
        return None
    able = [c for c in hall.counters if code in c.services]
    free = sorted((c for c in able if c.state == "idle" and hall.now - c.since_s >= IDLE_ON_DASHBOARD_S),
                  key=lambda c: (c.services.index(code), c.number))
    if free:
        return Step("instruct", free[0].number, "call_next", ticket)
    paused = sorted((c for c in able if c.state == "paused" and c.pause_reason not in NOT_CUT),
                    key=lambda c: (c.since_s, c.number))
    if paused:
        return Step("instruct", paused[0].number, "end_pause")
    reserve = [c for c in able if c.state == "closed" and c.reserve]
    if reserve:
        return Step("open", reserve[0].number)
    return None


def card_plan(alert: dict[str, Any], hall: Hall) -> Step | None:
    """What the manager does about a card: its ``action`` when it has one, else what the rule's
    name and subject suggest. None: nothing to do (the card is acknowledged, no more)."""
    action = alert.get("action")
    if action:
        return _action_plan(alert, action, hall)
    rule, subject = alert["rule"], alert.get("subject") or {}
    number = alert.get("counter")
    if rule == "help_requested":
        return Step("help", number)
    if rule == "idle_counter":
        seen = hall.counter(_int(subject.get("id")))
        return Step("instruct", seen.number, "call_next") if seen is not None and seen.state == "idle" else None
    if rule in ("short_queue_long_wait", "eta_broken"):
        ticket = _int(subject.get("id"))
        return more_hands(hall, service_of_label(subject.get("label", "")), ticket)
    if rule in ("service_level", "unstaffed_service"):
        return more_hands(hall, str(subject.get("id")))
    if rule in ("paused_ratio", "long_pause"):
        pool = [c for c in hall.counters if c.state == "paused" and c.pause_reason not in NOT_CUT]
        if rule == "long_pause":
            pool = [c for c in pool if c.number == _int(subject.get("id"))]
        pool.sort(key=lambda c: (c.since_s, c.number))
        return Step("instruct", pool[0].number, "end_pause") if pool else None
    if rule == "service_overrun":
        seen = hall.counter(number)
        return Step("help", number) if seen is not None and seen.help == "waiting" else None
    return None


def _action_plan(alert: dict[str, Any], action: dict[str, Any], hall: Hall) -> Step | None:
    kind, number = action.get("kind"), _int(action.get("counter"))
    ticket = _int((action.get("ticket") or {}).get("id")) if action.get("ticket") else None
    if kind == "watch":
        return None
    if kind == "assist":
        seen = hall.counter(number)
        return Step("help", number) if seen is not None and seen.help == "waiting" else Step("look", number)
    if kind == "open_counter":
        seen = hall.counter(number)
        if seen is not None:
            if seen.state == "closed":
                return Step("open", number) if seen.reserve else None
            if seen.state == "idle":
                return Step("instruct", number, "call_next", ticket)
            if seen.state == "paused":
                return Step("instruct", number, "end_pause")
        subject = alert.get("subject") or {}
        label = (action.get("ticket") or {}).get("number") or subject.get("label", "")
        code = str(subject["id"]) if subject.get("kind") == "service" else service_of_label(label)
        return more_hands(hall, code, ticket)
    instruction = action.get("instruction") or INSTRUCTION_FOR.get(str(kind))
    if instruction and number is not None:
        return Step("instruct", number, instruction, ticket)
    return None


def round_plan(hall: Hall, limit: int) -> list[Step]:
    """What a walk round of the hall finds to say, at most ``limit`` things, most visible first: a
    teller sitting free while people wait for their services; when the hall is full, a break (not
    lunch, a meeting or a cash run) going on, the longest first; then a reserve counter to open."""
    steps: list[Step] = []
    idle = sorted((c for c in hall.counters if c.state == "idle" and hall.waiting_for(c) > 0
                   and hall.now - c.since_s >= IDLE_SEEN_S), key=lambda c: (c.since_s, c.number))
    steps += [Step("instruct", c.number, "call_next") for c in idle]
    if hall.full:
        paused = sorted((c for c in hall.counters if c.state == "paused" and c.pause_reason not in NOT_CUT),
                        key=lambda c: (c.since_s, c.number))
        steps += [Step("instruct", c.number, "end_pause") for c in paused]
        reserve = [c for c in hall.counters if c.state == "closed" and c.reserve and hall.waiting_for(c) > 0]
        steps += [Step("open", c.number) for c in reserve]
    return steps[:limit]


def _action_key(alert: dict[str, Any]) -> tuple[Any, ...]:
    """What a card asks, for telling whether it changed: (kind, counter, ticket)."""
    action = alert.get("action") or {}
    return action.get("kind"), _int(action.get("counter")), _int((action.get("ticket") or {}).get("id"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- the person ------------------------------------------------------------------------------------


class Hands(Protocol):
    """What the manager can do and see: the simulation provides it (in-process or over HTTP)."""

    now: float

    def at(self, when: float, action: Callable[..., None], *args: Any) -> None: ...
    def hall(self) -> Hall: ...
    def alert_open(self, alert_id: int) -> bool: ...
    def help_alert_at(self, counter: int) -> int | None: ...
    def acknowledge(self, alert_id: int) -> None: ...
    def respond(self, alert_id: int, state: str) -> bool: ...
    def instruct(self, counter: int, kind: str, ticket: int | None, alert_id: int | None) -> bool: ...
    def open_reserve(self, counter: int) -> bool: ...
    def authorize(self, counter: int) -> bool: ...


@dataclass
class Workload:
    reactions: list[tuple[float, str]] = field(default_factory=list)  # (start, rule or "help") of each card handled
    gone: int = 0  # cards already resolved when their turn came
    ignored: int = 0  # cards the draw said the manager did not get to
    queue_wait_s: list[float] = field(default_factory=list)  # card to the start of its reaction
    busy_s: dict[str, float] = field(default_factory=lambda: {"cards": 0.0, "help": 0.0, "rounds": 0.0})
    rounds: int = 0
    steps: dict[str, int] = field(default_factory=dict)  # "instruct:call_next", "open", "help", ... done
    refused: dict[str, int] = field(default_factory=dict)  # steps the system refused (state changed meanwhile)


class Manager:
    """The lobby manager: ``mode`` "alerts" (cards, help requests and rounds) or "walk" (help
    requests and rounds only). ``draws`` is the world's :class:`~server.simulator.world.Draws`."""

    def __init__(self, hands: Hands, draws: Any, mode: str, *, round_actions: int = 2,
                 day_s: float | None = None) -> None:
        assert mode in ("alerts", "walk")
        self.hands, self.draws, self.mode = hands, draws, mode
        self.round_actions = round_actions
        self.day_s = day_s
        self.queue = ReactionQueue()
        self.working = False
        self.drawn: dict[int, bool] = {}
        # Cards reacted to, with (severity, action) as they were then: a card reacted to comes back
        # only when it escalates, or when it names someone else who can act at once.
        self.handled: dict[int, tuple[str, Any]] = {}
        self.work = Workload()

    def start(self) -> None:
        self.hands.at(self.hands.now + self.draws.manager_next_round_s(), self._round_due)

    # --- hearing ----------------------------------------------------------------------------------

    def hear(self, alert: dict[str, Any]) -> None:
        """A card raised or changed on the dashboard (or, for a help request, the teller's call)."""
        if alert.get("resolved_at"):
            return
        alert_id, rule = alert["id"], alert["rule"]
        if rule == "help_requested":
            if alert_id in self.handled:
                return
            self.queue.push("help", HELP, self.hands.now, alert, key=alert_id)
        elif self.mode == "alerts":
            if alert_id not in self.drawn:
                self.drawn[alert_id] = self.draws.manager_reacts()
                if not self.drawn[alert_id]:
                    self.work.ignored += 1
            if not self.drawn[alert_id]:
                return
            if alert_id in self.handled and not self._worth_another_look(alert):
                return
            priority = CRITICAL if alert.get("severity") == "critical" else WARNING
            self.queue.push("alert", priority, self.hands.now, alert, key=alert_id)
        else:
            return
        self.hands.at(self.hands.now, self._next)  # after what the engine is doing now

    def _worth_another_look(self, alert: dict[str, Any]) -> bool:
        severity, action = self.handled[alert["id"]]
        if alert.get("severity") == "critical" and severity != "critical":
            return True
        now = _action_key(alert)
        if now == action or now[0] in (None, "watch", "assist") or now[1] is None:
            return False
        seen = self.hands.hall().counter(now[1])
        return seen is not None and (seen.state == "idle" or (seen.state == "paused"
                                                                and seen.pause_reason not in NOT_CUT))

    def _round_due(self) -> None:
        if self.day_s is not None and self.hands.now >= self.day_s:
            return
        self.queue.push("round", ROUND, self.hands.now, key="round")
        self._next()

    # --- doing ------------------------------------------------------------------------------------

    def _next(self) -> None:
        if self.working:
            return
        entry = self.queue.pop()
        if entry is None:
            return
        if entry.kind == "round":
            self._walk_round()
            return
        alert = entry.alert or {}
        self.handled[alert["id"]] = (alert.get("severity", ""), _action_key(alert))
        if not self.hands.alert_open(alert["id"]):
            self.work.gone += 1  # gone from the dashboard: nothing to do
            self._next()
            return
        self.work.reactions.append((self.hands.now, alert["rule"]))
        self.work.queue_wait_s.append(self.hands.now - entry.since)
        if entry.kind == "help":
            self._help(alert["id"], alert.get("counter"), "help")
            return
        self.hands.acknowledge(alert["id"])
        step = card_plan(alert, self.hands.hall())
        if step is None:
            self._busy(self.draws.manager_glance_s(), "cards")
        elif step.what == "help":
            help_id = self.hands.help_alert_at(step.counter) if step.counter is not None else None
            if help_id is None:
                self._busy(self.draws.manager_glance_s(), "cards")
            else:
                self._help(help_id, step.counter, "cards")
        else:
            took = self.draws.manager_reaction_s()
            self._busy(took, "cards", then=lambda: self._do(step, alert["id"]))

    def _help(self, alert_id: int, counter: int | None, account: str) -> None:
        """Say "on my way", walk over, give the authorization, say "done"."""
        self.handled.setdefault(alert_id, ("", None))
        if counter is None or not self.hands.respond(alert_id, "on_my_way"):
            self._busy(self.draws.manager_glance_s(), account)
            return
        walk, authorization = self.draws.manager_help_s()

        def arrived() -> None:
            if not self.hands.alert_open(alert_id):
                self.working = False  # the request was over by the time the manager came
                return
            self._busy(authorization, account, then=lambda: self._authorized(alert_id, counter))

        self._busy(walk, account, then=arrived, keep_working=True)

    def _authorized(self, alert_id: int, counter: int) -> None:
        self._count(self.work.steps, "help")
        self.hands.authorize(counter)
        if self.hands.alert_open(alert_id):
            self.hands.respond(alert_id, "done")

    def _walk_round(self) -> None:
        self.work.rounds += 1
        steps = round_plan(self.hands.hall(), self.round_actions)
        took = self.draws.manager_round_s()
        schedule = []
        for step in steps:
            took += self.draws.manager_reaction_s() / 2  # said in person while passing
            schedule.append((took, step))
        for when, step in schedule:
            self.hands.at(self.hands.now + when, self._do, step, None)
        self._busy(took, "rounds", then=lambda: self.hands.at(
            self.hands.now + self.draws.manager_next_round_s(), self._round_due))

    def _do(self, step: Step, alert_id: int | None) -> None:
        done = False
        if step.what == "instruct" and step.counter is not None and step.kind is not None:
            done = self.hands.instruct(step.counter, step.kind, step.ticket, alert_id)
            name = f"instruct:{step.kind}"
        elif step.what == "open" and step.counter is not None:
            done = self.hands.open_reserve(step.counter)
            name = "open"
        else:
            done, name = True, step.what
        self._count(self.work.steps if done else self.work.refused, name)

    def _busy(self, seconds: float, account: str, then: Callable[[], None] | None = None,
              keep_working: bool = False) -> None:
        """Busy for ``seconds``; then ``then`` runs, and (unless it keeps the manager at work) the
        next reaction starts."""
        self.working = True
        self.work.busy_s[account] += seconds

        def over() -> None:
            self.working = False
            if then is not None:
                if keep_working:
                    self.working = True
                then()
            if not self.working:
                self._next()

        self.hands.at(self.hands.now + seconds, over)

    @staticmethod
    def _count(tally: dict[str, int], name: str) -> None:
        tally[name] = tally.get(name, 0) + 1

    # --- what it came to --------------------------------------------------------------------------

    def summary(self, hours: float) -> dict[str, Any]:
        starts = sorted(t for t, _ in self.work.reactions)
        peak10 = max((sum(1 for s in starts if t <= s < t + 600) for t in starts), default=0)
        busy = sum(self.work.busy_s.values())
        waits = sorted(self.work.queue_wait_s)
        by_rule: dict[str, int] = {}
        for _, rule in self.work.reactions:
            by_rule[rule] = by_rule.get(rule, 0) + 1
        return {
            "mode": self.mode,
            "reactions": len(starts),
            "reactions_per_hour": round(len(starts) / hours, 2) if hours else None,
            "reactions_peak_10min": peak10,
            "reactions_by_rule": dict(sorted(by_rule.items())),
            "cards_ignored": self.work.ignored,
            "cards_gone": self.work.gone,
            "queue_wait_median_s": round(waits[len(waits) // 2], 1) if waits else None,
            "busy_s": {k: round(v, 1) for k, v in self.work.busy_s.items()},
            "busy_share": round(busy / (hours * 3600), 4) if hours else None,
            "rounds": self.work.rounds,
            "steps": dict(sorted(self.work.steps.items())),
            "refused": dict(sorted(self.work.refused.items())),
        }
