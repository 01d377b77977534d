"""How long one alert sweep takes on a synthetic hall, and how that grows with the hall.

    .venv/bin/python bench/sweep.py [--sizes 10x100,50x2000,500x20000] [--repeat 30] [--json FILE]

Builds a branch of C counters and W waiting tickets in a fresh SQLite database (WAL, synchronous
FULL, as deployed), on a manual clock: counters idle, serving, calling and paused in a fixed mix,
tickets of five services issued over the previous 40 minutes with realistic people-ahead figures,
and a day's history of finished tickets. It then times the real ``AlertEngine.evaluate`` — load
the snapshot, run every rule, reconcile with the stored alerts — once to raise the alerts, then
``--repeat`` times in the steady state a running branch is in (the clock moving 2 s per sweep):
each time once with a full read (as after any change in the hall) and once more 2 s later with
nothing changed (the engine then reuses its snapshot after checking the event log's mark). The
halls take turns, round after round, so the machine's ups and downs fall on every size alike.
Reports median and p90 milliseconds, and the share spent loading, in rules, and reconciling.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, update  # noqa: E402

from server.alerts.loader import load_snapshot  # noqa: E402
from server.alerts.rules import evaluate_rules  # noqa: E402
from server.bootstrap import open_runtime  # noqa: E402
from server.clock import ManualClock  # noqa: E402
from server.config import config_from_dict  # noqa: E402
from server.models import Counter, Staff, Ticket  # noqa: E402

START = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai
SERVICES = [("A", "quick", 3), ("B", "quick", 4), ("C", "standard", 10), ("D", "complex", 25), ("E", "complex", 20)]


def build(counters: int, waiting: int, folder: Path):  # type: ignore[no-untyped-def]
    raw = {
        "branch": {"code": "bench", "name": "Bench"},
        "server": {"database_url": f"sqlite:///{folder}/bench.db"},
        "clock": {"mode": "manual"},
        "services": [
            {"code": code, "name": {"zh": code, "en": code}, "kind": kind, "expected_minutes": minutes}
            for code, kind, minutes in SERVICES
        ],
        "counters": [
            {"number": n, "services": [SERVICES[(n + k) % len(SERVICES)][0] for k in range(3)]}
            for n in range(1, counters + 1)
        ],
    }
    config = config_from_dict(raw, source=str(folder / "bench.toml"))
    clock = ManualClock(START)
    rt = open_runtime(config, clock=clock)
    branch_id = rt.default_branch_id
    rng = random.Random(7)
    with rt.db.writing() as session:
        session.execute(insert(Staff), [
            {"username": f"t{n}", "display_name": f"T{n}", "password_hash": "x", "role": "teller",
             "branch_id": branch_id, "created_at": START} for n in range(1, counters + 1)
        ])
        session.commit()
        staff = {s.username: s.id for s in session.query(Staff)}
        service_ids = {s.code: s.id for s in session.query(Ticket.__table__.metadata.tables["services"])}  # type: ignore[attr-defined]
        rows = []
        sequence = {code: 0 for code, _, _ in SERVICES}
        # the day so far: 30 finished tickets per service, for the moving averages and medians
        for code, _, minutes in SERVICES:
            for _ in range(30):
                sequence[code] += 1
                finished = START - timedelta(minutes=rng.uniform(5, 120))
                served = finished - timedelta(seconds=rng.lognormvariate(0, 0.4) * minutes * 60)
                called = served - timedelta(seconds=20)
                rows.append(_ticket(branch_id, service_ids[code], code, sequence[code], "done",
                                    called - timedelta(minutes=8), called=called, served=served, finished=finished))
        ahead = {code: 0 for code, _, _ in SERVICES}
        issue_times = sorted(START - timedelta(seconds=rng.uniform(0, 2400)) for _ in range(waiting))
        for issued in issue_times:
            code = rng.choices([s[0] for s in SERVICES], weights=[40, 25, 20, 8, 7])[0]
            sequence[code] += 1
            rows.append(_ticket(branch_id, service_ids[code], code, sequence[code], "waiting", issued,
                                ahead=ahead[code], promised=int(ahead[code] * 60)))
            ahead[code] += 1
        session.execute(insert(Ticket), rows)
        session.commit()
        for n in range(1, counters + 1):
            state = ("idle", "serving", "serving", "calling", "paused")[n % 5]
            session.execute(update(Counter).where(Counter.branch_id == branch_id, Counter.number == n).values(
                state=state, staff_id=staff[f"t{n}"], state_since=START - timedelta(seconds=rng.uniform(0, 900)),
                pause_reason="break" if state == "paused" else None, opened_at=START - timedelta(hours=2)))
        session.commit()
        # counters calling or serving need their ticket: take the oldest waiting ones
        active = session.query(Counter).filter(Counter.state.in_(("calling", "serving"))).all()
        for counter in active:
            ticket = session.query(Ticket).filter(Ticket.status == "waiting").order_by(Ticket.issued_at).first()
            ticket.status = "serving" if counter.state == "serving" else "called"
            ticket.counter_id = counter.id
            ticket.called_at = START - timedelta(seconds=300)
            ticket.served_at = START - timedelta(seconds=280) if counter.state == "serving" else None
        session.commit()
    return rt, clock, branch_id


def _ticket(branch_id, service_id, code, seq, status, issued, *, called=None, served=None, finished=None,  # type: ignore[no-untyped-def]
            ahead=0, promised=0):
    return {
        "branch_id": branch_id, "service_id": service_id, "original_service_id": service_id,
        "business_day": issued.date(), "sequence": seq, "number": f"{code}{seq:04d}", "status": status,
        "token": f"{code}{seq:06d}" + "x" * 20, "lang": "zh", "people_ahead": ahead, "estimated_wait_s": promised,
        "issued_at": issued, "waiting_since": issued, "called_at": called, "served_at": served,
        "finished_at": finished, "recall_count": 0, "outcome": "done" if status == "done" else None,
    }


class Hall:
    """One synthetic hall and its timings; ``step()`` is one round of measurements on it."""

    def __init__(self, counters: int, waiting: int, folder: Path) -> None:
        self.counters, self.waiting = counters, waiting
        self.rt, self.clock, self.branch_id = build(counters, waiting, folder)
        started = time.perf_counter()
        self.raised = self.rt.alerts.evaluate(self.branch_id)
        self.first_ms = (time.perf_counter() - started) * 1000
        self.totals: list[float] = []
        self.unchanged: list[float] = []
        self.loads: list[float] = []
        self.rules: list[float] = []

    def step(self) -> None:
        rt, clock, branch_id, engine = self.rt, self.clock, self.branch_id, self.rt.alerts
        clock.advance(2)
        engine._snapshots.clear()  # a full read, as after any change in the hall
        started = time.perf_counter()
        engine.evaluate(branch_id)
        self.totals.append((time.perf_counter() - started) * 1000)
        clock.advance(2)
        started = time.perf_counter()
        engine.evaluate(branch_id)  # nothing changed since: the snapshot read is reused
        self.unchanged.append((time.perf_counter() - started) * 1000)
        # the parts, timed separately on the same state
        with rt.reading() as session:
            t0 = time.perf_counter()
            snapshot = load_snapshot(session, rt.config, branch_id, clock.now())
            t1 = time.perf_counter()
            evaluate_rules(snapshot, rt.config.alerts)
            t2 = time.perf_counter()
        self.loads.append((t1 - t0) * 1000)
        self.rules.append((t2 - t1) * 1000)

    def result(self) -> dict:  # type: ignore[type-arg]
        totals = self.totals
        median = statistics.median(totals)
        return {
            "counters": self.counters,
            "waiting": self.waiting,
            "alerts_raised_first_sweep": self.raised,
            "first_sweep_ms": round(self.first_ms, 1),
            "median_ms": round(median, 2),
            "p90_ms": round(statistics.quantiles(totals, n=10)[-1], 2) if len(totals) >= 10 else round(max(totals), 2),
            "unchanged_median_ms": round(statistics.median(self.unchanged), 2),
            "load_ms": round(statistics.median(self.loads), 2),
            "rules_ms": round(statistics.median(self.rules), 2),
            "reconcile_ms": round(max(0.0, median - statistics.median(self.loads) - statistics.median(self.rules)), 2),
            "repeat": len(totals),
        }


def measure(sizes: list[tuple[int, int]], repeat: int) -> list[dict]:  # type: ignore[type-arg]
    """Every hall built first, then measured in turns, round after round: a shared machine's slow
    minute then falls on every size alike, and the growth from one size to the next is the code's."""
    with tempfile.TemporaryDirectory() as folder:
        halls = []
        for n, (counters, waiting) in enumerate(sizes):
            (Path(folder) / str(n)).mkdir()
            halls.append(Hall(counters, waiting, Path(folder) / str(n)))
        for _ in range(repeat):
            for hall in halls:
                hall.step()
        for hall in halls:
            hall.rt.db.dispose()
        return [hall.result() for hall in halls]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10x100,50x2000,500x20000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes.split(",")]
    results = measure(sizes, args.repeat)  # type: ignore[arg-type]
    for result in results:
        print(json.dumps(result), flush=True)
    machine = {"python": platform.python_version(), "cpu": _cpu(), "cores": __import__("os").cpu_count()}
    report = {"command": "python " + " ".join(sys.argv), "machine": machine, "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print("\n| counters x waiting | median ms | p90 ms | load | rules | reconcile | per waiting ticket µs "
          "| unchanged hall ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        per = r["median_ms"] * 1000 / max(1, r["waiting"])
        print(f"| {r['counters']} x {r['waiting']} | {r['median_ms']} | {r['p90_ms']} | {r['load_ms']} | "
              f"{r['rules_ms']} | {r['reconcile_ms']} | {per:.1f} | {r['unchanged_median_ms']} |")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
