"""The simulated world: customers, tellers and a lobby manager, as numbers to draw from.

Everything random comes from one ``random.Random(seed)``, drawn in the order events happen, so a
seed reproduces a day exactly. The defaults describe a busy city branch; every one can be changed
(``World(**overrides)``, or ``--world key=value`` on the command line).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from typing import Any

from server.config import PAUSE_REASONS

# Relative arrival rate per half hour from opening (09:00-17:00): a morning peak around 10:00 and
# a lunch-hour peak around 12:30, quiet at the ends of the day.
DEFAULT_PROFILE = (0.7, 0.9, 1.3, 1.4, 1.3, 1.0, 0.9, 1.0, 1.3, 1.3, 1.0, 0.9, 0.9, 0.8, 0.8, 0.6)


@dataclass
class World:
    tickets: float = 600.0  # expected customers over the day
    profile: tuple[float, ...] = DEFAULT_PROFILE  # relative arrival rate per half hour
    mix: dict[str, float] = field(default_factory=lambda: {"quick": 0.6, "standard": 0.3, "complex": 0.1})
    service_sigma: float = 0.3  # log-normal spread of service times around expected_minutes
    walk_s: tuple[float, float] = (15.0, 50.0)  # from the call to the customer at the counter
    no_show_share: float = 0.04  # called, never comes: recalled once, then a no-show
    no_show_wait_s: float = 40.0  # how long a teller waits before recalling, and again before giving up
    redo_share: float = 0.02  # finished with outcome redo (and error, a tenth of that)
    # Priority customers (elderly, disabled, pregnant) who ask for a priority ticket at the kiosk.
    priority_share: float = 0.05
    # Of the no-shows, this share comes back late (after the no-show was recorded) and asks at a
    # counter; a teller brings the ticket back (return) and it is called again.
    late_return_share: float = 0.5
    late_return_s: tuple[float, float] = (60.0, 420.0)  # from the no-show to coming back
    # Customers sent to fetch a missing document part way through: the teller sets them aside (hold)
    # and calls the next; they come back after fetch_s and the same teller calls them back.
    hold_share: float = 0.03
    hold_fetch_s: tuple[float, float] = (120.0, 600.0)
    # Tellers: each is "slow to call" or not. A prompt teller calls within seconds; a slow one,
    # now and then, lets minutes pass (paperwork, phone, chat) before pressing call-next.
    slow_teller_share: float = 0.3
    call_delay_s: float = 8.0  # mean delay of a prompt call
    slow_call_chance: float = 0.1  # per call, for a slow teller
    slow_call_median_s: float = 200.0  # log-normal median of a slow call's delay
    # Pauses: after a customer, a teller may pause (rate per staffed hour), for a reason drawn by
    # weight, for a log-normal length with this median (minutes).
    pauses_per_hour: float = 0.2
    pause_reasons: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "break": (0.45, 8.0), "meeting": (0.15, 16.0), "cash_replenish": (0.25, 6.0), "other": (0.15, 9.0),
    })
    lunch_minutes: tuple[float, float] = (30.0, 40.0)  # each teller's lunch break, some time in the lunch window
    lunch_window: tuple[float, float] = (2.0, 5.0)  # hours after opening: 11:00-14:00
    # Long authorizations: the transaction waits for a supervisor; the teller presses request-help.
    long_auth_share: dict[str, float] = field(
        default_factory=lambda: {"quick": 0.015, "standard": 0.06, "complex": 0.1})
    long_auth_extra_min: tuple[float, float] = (6.0, 18.0)  # the wait for a back-office authorization
    reserve_counters: int = 0  # the highest-numbered counters start closed; the manager may open them
    # Tellers answering the manager's instructions (they hear them on the console).
    teller_answer_s: tuple[float, float] = (5.0, 30.0)  # from the instruction to the answer (and the act)
    break_cut_yes: float = 0.6  # asked to end a break (or an "other" pause), the teller agrees this often
    owed_break_after_s: float = 900.0  # a break cut short: its rest is taken at the first free moment after this
    # The lobby manager: one person. Sees a card (and decides to act on it) with this probability,
    # one draw per alert; each reaction takes log-normal time (read, walk, talk) and they come one at
    # a time, help requests and critical cards first. Help on the spot: a walk, then the authorization.
    manager_react_chance: float = 0.8
    manager_reaction_median_s: float = 75.0
    manager_reaction_sigma: float = 0.4
    manager_glance_s: float = 15.0  # a card with nothing to do, or one gone when its turn came
    manager_help_walk_median_s: float = 45.0
    manager_help_s: tuple[float, float] = (60.0, 180.0)  # the authorization given on the spot
    manager_walk_every_s: float = 300.0  # a round of the hall (also the manager who has alerts)
    manager_round_s: float = 45.0  # the round itself (median)
    manager_round_actions: int = 2  # at most this many things said on one round
    manager_slowness: float = 1.0  # multiplies every manager duration and the time between rounds
    # Customers' patience (complaints are drawn from it, server/simulator/incidents.py): one who
    # saw at most patience_short_ahead people ahead is patient for about patience_short_median_s;
    # one who saw a longer queue for patience_long_base_s plus patience_per_person_s per person
    # beyond that. Log-normal spread.
    patience_short_ahead: int = 2
    patience_short_median_s: float = 600.0
    patience_short_sigma: float = 0.25
    patience_long_base_s: float = 600.0
    patience_per_person_s: float = 300.0
    patience_long_sigma: float = 0.35
    # Of the customers whose wait passes their patience, the share who say so to the staff, so that
    # the lobby manager records it in the complaint register (server/lobby/complaints.py). The rest
    # sigh, leave or complain elsewhere (a call centre, a review), where the branch never hears of
    # it. No field figure stands behind a value: 1.0 (everyone tells the staff) keeps the register
    # equal to the patience model's count, the upper bound; lower it to see fewer recorded.
    complain_share: float = 1.0

    def __post_init__(self) -> None:
        for reason in self.pause_reasons:
            if reason not in PAUSE_REASONS:
                raise ValueError(f"unknown pause reason {reason!r} (known: {', '.join(PAUSE_REASONS)})")
        if not self.profile or min(self.profile) < 0:
            raise ValueError("the arrival profile needs at least one non-negative rate")
        if not 0.0 <= self.complain_share <= 1.0:
            raise ValueError("complain_share is a share: from 0 to 1")

    @classmethod
    def from_pairs(cls, pairs: list[str]) -> World:
        """``key=value`` overrides from the command line (numbers and tuples as Python literals)."""
        import ast

        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep or key not in known:
                raise ValueError(f"--world {pair!r}: expected key=value with key one of {', '.join(sorted(known))}")
            try:
                values[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                raise ValueError(f"--world {pair!r}: {raw!r} is not a number, tuple or dict") from None
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Customer:
    """One customer, drawn whole on arrival: the same customer in every variant of a seed's day."""

    service: str
    no_show: bool
    walk_s: float
    service_s: float  # at the counter, without a long authorization
    auth: tuple[float, float] | None  # (when in the service help is requested, extra seconds)
    outcome: str
    patience_z: float = 0.0  # a standard normal draw: where this customer's patience lies (see patience)
    priority: bool = False
    late_return_s: float | None = None  # a no-show who comes back this long after the no-show
    hold: tuple[float, float] | None = None  # (share of the service done when sent to fetch, fetch seconds)


class Draws:
    """The world's random draws, from separate seeded streams: customers (arrival times and every
    trait), each teller's habits, and the manager. So a day run with and without the manager, or
    under another call order, has the same customers and the same tellers (common random numbers):
    the comparison shows the difference the system makes, not the luck of the draw."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.rng = random.Random(f"{seed}:customers")
        # The traits added later (priority, late return, holds) come from their own stream, so the
        # customers of a seed keep every earlier trait: earlier results stay comparable.
        self.traits = random.Random(f"{seed}:traits")
        self.hall = random.Random(f"{seed}:hall")
        self.manager = random.Random(f"{seed}:manager")
        # Whether an impatient customer tells the staff: its own stream, so the share changes nothing else.
        self.voices = random.Random(f"{seed}:complaints")
        self._tellers: dict[int, random.Random] = {}

    def teller(self, number: int) -> random.Random:
        if number not in self._tellers:
            self._tellers[number] = random.Random(f"{self.seed}:teller:{number}")
        return self._tellers[number]

    def arrivals(self, day_s: float) -> list[float]:
        """Arrival times (seconds after opening) of a Poisson process whose rate follows the profile."""
        profile = self.world.profile
        slot = day_s / len(profile)
        scale = self.world.tickets / (sum(profile) * slot)  # customers per second at relative rate 1
        peak = max(profile) * scale
        times: list[float] = []
        t = 0.0
        if peak <= 0:
            return times
        while True:  # thinning (Lewis and Shedler)
            t += self.rng.expovariate(peak)
            if t >= day_s:
                return times
            if self.rng.random() * peak <= profile[min(int(t // slot), len(profile) - 1)] * scale:
                times.append(t)

    def customer(self, by_kind: dict[str, list[str]], services: dict[str, Any]) -> Customer:
        rng, world = self.rng, self.world
        kinds = [k for k in world.mix if by_kind.get(k)]
        kind = rng.choices(kinds, weights=[world.mix[k] for k in kinds])[0]
        code = rng.choice(by_kind[kind])
        sigma = world.service_sigma
        mean_s = services[code].expected_minutes * 60
        took = rng.lognormvariate(math.log(mean_s) - sigma * sigma / 2, sigma)  # its mean: expected_minutes
        auth = None
        if rng.random() < world.long_auth_share.get(kind, 0.0):
            auth = (rng.uniform(0.3, 0.8) * took, rng.uniform(*world.long_auth_extra_min) * 60)
        r = rng.random()
        outcome = "error" if r < world.redo_share / 10 else "redo" if r < world.redo_share else "done"
        no_show = rng.random() < world.no_show_share
        walk_s, patience_z = rng.uniform(*world.walk_s), rng.gauss(0.0, 1.0)
        traits = self.traits
        priority = traits.random() < world.priority_share
        late = traits.uniform(*world.late_return_s) if traits.random() < world.late_return_share else None
        hold = (traits.uniform(0.2, 0.6), traits.uniform(*world.hold_fetch_s)) \
            if traits.random() < world.hold_share else None
        return Customer(code, no_show, walk_s, took, auth, outcome, patience_z, priority,
                        late if no_show else None, None if no_show else hold)

    def tells_the_staff(self) -> bool:
        """Whether a customer whose patience ran out complains to the staff (``complain_share``)."""
        return self.voices.random() < self.world.complain_share

    def slow_teller(self, number: int) -> bool:
        return self.teller(number).random() < self.world.slow_teller_share

    def call_delay_s(self, number: int, slow: bool) -> float:
        rng = self.teller(number)
        if slow and rng.random() < self.world.slow_call_chance:
            return rng.lognormvariate(math.log(self.world.slow_call_median_s), 0.5)
        return rng.expovariate(1 / self.world.call_delay_s)

    def pause_after_customer(self, number: int, customer_s: float) -> tuple[str, float] | None:
        """Whether the teller pauses now (rate per hour, scaled by the time the customer took)."""
        rng = self.teller(number)
        chance = 1 - math.exp(-self.world.pauses_per_hour * customer_s / 3600)
        if rng.random() >= chance:
            return None
        reasons = list(self.world.pause_reasons)
        reason = rng.choices(reasons, weights=[self.world.pause_reasons[r][0] for r in reasons])[0]
        median_min = self.world.pause_reasons[reason][1]
        return reason, rng.lognormvariate(math.log(median_min * 60), 0.5)

    def lunch(self, number: int) -> tuple[float, float]:
        """(start, length) in seconds: start after opening, somewhere in the lunch window."""
        rng = self.teller(number)
        lo, hi = self.world.lunch_window
        return rng.uniform(lo * 3600, hi * 3600), rng.uniform(*self.world.lunch_minutes) * 60

    def answer_delay_s(self, number: int) -> float:
        return self.teller(number).uniform(*self.world.teller_answer_s)

    def agrees_to_end_break(self, number: int) -> bool:
        return self.teller(number).random() < self.world.break_cut_yes

    def manager_reacts(self) -> bool:
        return self.manager.random() < self.world.manager_react_chance

    def _manager_s(self, median_s: float, sigma: float) -> float:
        return self.manager.lognormvariate(math.log(median_s * self.world.manager_slowness), sigma)

    def manager_reaction_s(self) -> float:
        """Read the card, decide, walk over or send the instruction, say it."""
        return self._manager_s(self.world.manager_reaction_median_s, self.world.manager_reaction_sigma)

    def manager_glance_s(self) -> float:
        return self.world.manager_glance_s * self.world.manager_slowness

    def manager_help_s(self) -> tuple[float, float]:
        """(walk to the counter, the authorization there)."""
        walk = self._manager_s(self.world.manager_help_walk_median_s, self.world.manager_reaction_sigma)
        return walk, self.manager.uniform(*self.world.manager_help_s) * self.world.manager_slowness

    def manager_round_s(self) -> float:
        return self._manager_s(self.world.manager_round_s, self.world.manager_reaction_sigma)

    def manager_next_round_s(self) -> float:
        """Time to the next round of the hall: every few minutes, give or take a third."""
        every = self.world.manager_walk_every_s * self.world.manager_slowness
        return self.manager.uniform(every * 2 / 3, every * 4 / 3)


def patience_s(world: World, people_ahead: int, z: float) -> float:
    """How long a customer waits before complaining, from what they saw at arrival (``people_ahead``)
    and their draw ``z``: about ``patience_short_median_s`` for a short queue; for a longer one, the
    base plus ``patience_per_person_s`` for every person beyond the short queue."""
    if people_ahead <= world.patience_short_ahead:
        return world.patience_short_median_s * math.exp(world.patience_short_sigma * z)
    median = world.patience_long_base_s + world.patience_per_person_s * (people_ahead - world.patience_short_ahead)
    return median * math.exp(world.patience_long_sigma * z)
