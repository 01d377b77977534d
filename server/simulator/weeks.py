"""Weeks of simulated days on one database, to serve and look at (issue 18: the range report).

Each of the branch's open days (its ``open_days`` and ``closed_dates``) in ``weeks`` weeks from a
Monday is played in turn by the same :class:`~server.simulator.run.Simulation`: one SQLite file,
the same staff rows and kiosk, the clock moved on to each day's opening, the day's customers and
tellers drawn from ``seed`` + the day's index, the server's housekeeping before each day and after
the last. The customers complain through the complaint register as they do in one day, so the range
report of the filled database has every figure: tickets, waits, alerts, complaints per kind and how
many an alert preceded.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from server.config import Config
from server.maintenance import daily
from server.simulator.run import DAY, Result, Simulation, _scratch_dir
from server.simulator.world import World

# How busy the branch's counters are, by default, over a day: the expected customers a day are
# this share of what its counters could serve in the opening hours at the services' expected times.
DEFAULT_LOAD = 0.6


@dataclass
class Weeks:
    database: Path
    days: list[tuple[date, dict[str, Any]]] = field(default_factory=list)  # each day's summary
    ended_at: datetime | None = None  # the branch clock after the last day (UTC)
    left_over: int = 0  # tickets the housekeeping between days found still open (0: each day ended)
    run_s: float = 0.0

    @property
    def first(self) -> date:
        return self.days[0][0]

    @property
    def last(self) -> date:
        return self.days[-1][0]

    def weekly(self) -> list[dict[str, Any]]:
        """Per ISO week: days, tickets, the customers whose patience ran out while waiting, the
        complaints the register has and how many an alert preceded (its ``warned``)."""
        weeks: dict[str, dict[str, Any]] = {}
        for day, summary in self.days:
            year, week, _ = day.isocalendar()
            row = weeks.setdefault(f"{year}-W{week:02d}", {"week": f"{year}-W{week:02d}", "from": day, "to": day,
                                                           "days": 0, "tickets": 0, "impatient": 0,
                                                           "complaints": 0, "preceded_by_alert": 0})
            register = summary["register"]
            row["to"] = day
            row["days"] += 1
            row["tickets"] += summary["tickets"]
            row["impatient"] += register["impatient"]
            row["complaints"] += register["complaints"]
            row["preceded_by_alert"] += register["preceded_by_alert"]
        for row in weeks.values():
            complained = row["complaints"]
            row["preceded_share"] = round(row["preceded_by_alert"] / complained, 4) if complained else None
        return list(weeks.values())


def open_days(config: Config, start: date, weeks: int) -> list[date]:
    """The days the branch opens in ``weeks`` weeks from ``start``."""
    hours = config.hours
    return [day for day in (start + timedelta(days=i) for i in range(7 * weeks)) if hours.opens_on(day)]


def default_start(weeks: int) -> date:
    """The Monday ``weeks`` weeks back from the end of the simulator's day's week (DAY, Tuesday
    2026-12-01): the weeks end with that week, whatever the date today."""
    monday = DAY - timedelta(days=DAY.weekday())
    return monday - timedelta(weeks=weeks - 1)


def customers_a_day(config: Config, world: World, load: float = DEFAULT_LOAD) -> float:
    """Expected customers a day that keep the branch's counters ``load`` busy: the counter-minutes
    of the opening hours (reserve counters left out) over a customer's mean expected time, the
    world's mix of service kinds weighted, each kind's services alike. Lunch breaks and pauses
    come on top, so the counters are somewhat busier than ``load`` says."""
    today = DAY
    opening = datetime.combine(today, config.branch.opening_time)
    closing = datetime.combine(today, config.branch.closing_time)
    minutes = (closing - opening).total_seconds() / 60
    counters = max(1, len(config.counters) - world.reserve_counters)
    by_kind: dict[str, list[float]] = {}
    for service in config.services:
        by_kind.setdefault(service.kind, []).append(service.expected_minutes)
    weights = {kind: share for kind, share in world.mix.items() if by_kind.get(kind)}
    mean = sum(share * sum(by_kind[kind]) / len(by_kind[kind]) for kind, share in weights.items()) / sum(
        weights.values())
    return round(load * counters * minutes / mean)


def simulate_weeks(
    *, weeks: int, database: str | os.PathLike[str], config_path: str | os.PathLike[str] | None = None,
    seed: int = 1, start: date | None = None, world: World | None = None, policy: str = "at_risk_first",
    manager: bool | str = True, tick_s: float | None = None,
    on_day: Callable[[int, int, date, Result], None] | None = None,
) -> Weeks:
    """Fill ``database`` (a SQLite file, made if missing) with the branch's open days in ``weeks``
    weeks from ``start`` (a Monday; default :func:`default_start`). ``on_day(i, n, day, result)``
    hears each day as it ends (its :class:`~server.simulator.run.Result`). The days are played on a
    copy in RAM where there is one (a day commits thousands of times, and a disk would make each
    wait), copied to ``database`` at the end."""
    from server.config import load_config
    from server.simulator.run import DEFAULT_CONFIG

    if weeks < 1:
        raise ValueError("weeks: at least one")
    config = load_config(config_path or DEFAULT_CONFIG)
    days = open_days(config, start or default_start(weeks), weeks)
    if not days:
        raise ValueError("the branch opens on none of those days (open_days, closed_dates)")
    started = time.perf_counter()
    result = Weeks(Path(database).resolve())
    with tempfile.TemporaryDirectory(prefix="callwise-weeks-", dir=_scratch_dir()) as scratch:
        work = Path(scratch) / "weeks.db"
        if result.database.exists():
            _copy(result.database, work)
        _play(result, days, work, on_day, seed=seed, policy=policy, manager=manager, world=world,
              config_path=config_path, tick_s=tick_s)
        result.database.parent.mkdir(parents=True, exist_ok=True)
        _copy(work, result.database)
    result.run_s = round(time.perf_counter() - started, 1)
    return result


def _play(result: Weeks, days: list[date], database: Path,
          on_day: Callable[[int, int, date, Result], None] | None, *, seed: int, **options: Any) -> None:
    simulation = Simulation(seed=seed, database=database, day=days[0], **options)
    try:
        for i, day in enumerate(days):
            if i:
                result.left_over += simulation.next_day(day, seed + i)
            played = simulation.run()
            result.days.append((day, played.summary))
            if on_day is not None:
                on_day(i, len(days), day, played)
        result.left_over += daily(simulation.rt)["closed"]  # the housekeeping after the last day too
        result.ended_at = simulation.clock.now()
    finally:
        simulation.close_database()


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included), over ``target``; a new
    ``target`` is readable by its owner only, as a server leaves its database."""
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)
