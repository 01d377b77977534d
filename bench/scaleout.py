"""Many branches on PostgreSQL + Redis, one and two ``serve`` processes: what a second process buys.

    .venv/bin/python bench/scaleout.py [--seconds 6] [--rounds 3] [--clients 16] [--branches 200]
                                       [--json bench/results/scaleout.json]

Issue 17: the README's way past one process (several ``python -m server serve`` on PostgreSQL with
Redis as the message queue) had not added throughput. This measures it, as deployed, in one run:

- its own PostgreSQL cluster with production durability (fsync on, ``synchronous_commit`` on:
  tests/support/pg.py's ``durable`` cluster, not the API suite's fsync-off one) and its own redis-server;
- the storage's own durable commit rate on that cluster first: bare psycopg one-row
  ``INSERT`` + ``COMMIT`` loops from 1 and from 16 connections (rate, p50, p99), so every HTTP figure
  stands beside what this disk can commit;
- a generated config of ``--branches`` branches (two services, three counters each, one time zone
  chosen so that the branches' local time is about noon: the system clock, inside opening hours), in
  production mode, Redis also the rate limits' storage;
- accounts made in this process with the server's own functions (server/accounts.py) against the
  database before any server starts: one kiosk per branch (16 for the hot-spot branch) and one teller
  per counter, each teller signed in at their counter over HTTP;
- ``--rounds`` rounds, each one process and then two (different ports, the schema migrated once,
  before either starts), each with three phases of ``--seconds`` by the same ``--clients`` clients:
  ``health`` (``GET /api/v1/health`` without a token, as a load balancer asks: the cheapest endpoint,
  the ceiling of these processes on this machine), ``issue`` (kiosks of many branches: each client
  turns through the kiosks of its share of the branches, both services) and ``call_next`` (each
  client turns through its share of the tellers: call-next, then a no-show frees the counter; only
  call-next is timed and counted). Clients are separate OS processes (keep-alive HTTP/1.1, one
  connection each), dealt round-robin over the running processes;
- the single-service hot spot: 16 kiosk clients of one branch, all issuing for one service, on two
  processes.

Before each phase the run waits (up to 10 s, ``--quiet-wait`` seconds in all) for other work on the
machine to use less than 30% of a core. Every phase samples ``pg_stat_activity`` every ~50 ms (the
callwise database's client backends: active, waiting on a lock, and the wait events) and reads the
CPU time of the serve processes, PostgreSQL, Redis, the clients and every other process from /proc.
Figures per number of processes are medians over the rounds. Targets (issue 17): two processes at
least 1.6x one process's throughput, the ratio to the cheapest endpoint no worse than with one
process, and in the hot spot no more than a quarter of the active sessions waiting on locks.

Bench shortcuts, none on the measured path: 1-iteration PBKDF2 password hashes for the bench's
accounts (the server checks whichever method a hash names), and idle-counter alert thresholds of an
hour, since the bench's tellers visit each counter only every few seconds between phases that leave
counters idle (as bench/realtime.py does).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATABASE = "callwise"
PASSWORD = "bench-password-9"
FAST_PASSWORD_HASH = "pbkdf2:sha256:1"  # see the module docstring
SERVICES = ("A", "B")
COUNTER_SERVICES = (["A", "B"], ["B", "A"], ["A", "B"])
HOT_BRANCH = 1
HOT_CLIENTS = 16
SAMPLE_EVERY_S = 0.05
KINDS = ("health", "issue", "call_next")
TARGET_GROWTH = 1.6
TARGET_LOCK_SHARE = 0.25
QUIET_OTHER_PCT = 30.0  # other work's CPU, in % of one core, under which the machine counts as quiet


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (as bench/http_load.py); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def say(message: str) -> None:
    print(f"[scaleout {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the config --------------------------------------------------------------------------------------


def branch_code(b: int) -> str:
    return f"b{b:03d}"


def midday_zone(now: datetime) -> str:
    """A fixed-offset zone (``Etc/GMT-N`` is UTC+N) whose local time is within half an hour of noon
    at ``now``: a run of a few minutes on the system clock stays inside the opening hours, whatever
    hour it starts at."""
    hour = now.astimezone(timezone.utc).hour + (1 if now.minute >= 30 else 0)
    offset = 12 - hour  # -12 .. +12, all of which exist as Etc/GMT zones
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def scaleout_config(database_url: str, redis_url: str, branches: int, zone: str, counters: int = 3) -> str:
    """A production config with ``branches`` branches of two services and ``counters`` counters each,
    all in ``zone``, open 08:00-20:00, on PostgreSQL with Redis for the message queue and the limits."""
    lines = [
        "# Generated by bench/scaleout.py: many branches, several processes.",
        "[server]",
        'mode = "production"',
        'secret_key = "bench-only-not-a-secret-0123456789abcdef"',
        f'database_url = "{database_url}"',
        f'message_queue = "{redis_url}"',
        f'rate_limit_storage = "{redis_url}"',
        'public_url = "http://127.0.0.1:5000"',
        'host = "127.0.0.1"',
        "",
        "[clock]",
        'mode = "system"',
        "",
        "[limits]",
        "kiosk_tickets_per_minute = 1000000",
        "login_attempts_per_minute = 100000",
        "",
        "[alerts]",
        "# Between phases the bench leaves counters idle with people waiting: see the module docstring.",
        "idle_counter_warning_s = 3600",
        "idle_counter_critical_s = 7200",
        "",
        "[queue]",
        "# The tellers free their counter with a no-show at once: load, not customers (no 60 s grace).",
        "no_show_grace_s = 0",
        "",
    ]
    for b in range(1, branches + 1):
        lines += [
            "[[branches]]", f'code = "{branch_code(b)}"', f'name = {{ zh = "支行 {b}", en = "Branch {b}" }}',
            f'timezone = "{zone}"', 'opening_time = "08:00"', 'closing_time = "20:00"',
            'last_ticket_time = "19:45"', "",
            "  [[branches.services]]", '  code = "A"', '  name = { zh = "现金存取", en = "Cash" }',
            '  kind = "quick"', "  expected_minutes = 3", "",
            "  [[branches.services]]", '  code = "B"', '  name = { zh = "开户", en = "Accounts" }',
            '  kind = "standard"', "  expected_minutes = 10", "",
        ]
        for c in range(1, counters + 1):
            services = ", ".join(f'"{s}"' for s in COUNTER_SERVICES[(c - 1) % len(COUNTER_SERVICES)])
            lines += ["  [[branches.counters]]", f"  number = {c}", f"  services = [{services}]", ""]
    return "\n".join(lines)


def account_plan(branches: int, counters: int) -> dict[str, dict[str, int]]:
    """Per branch code: how many kiosks and tellers (one per counter; the hot-spot branch gets a
    kiosk for each of its clients)."""
    return {branch_code(b): {"kiosk": HOT_CLIENTS if b == HOT_BRANCH else 1, "teller": counters}
            for b in range(1, branches + 1)}


def provision(config_path: Path, plan: dict[str, dict[str, int]]) -> dict[str, dict[str, list[str]]]:
    """Migrate the schema (once, before any server starts), create the kiosks and tellers with the
    server's own account functions, and log the tellers in; per branch code, the kiosks' device
    tokens and the tellers' log-in tokens (teller i for counter i)."""
    from werkzeug.security import generate_password_hash

    from server import accounts
    from server.bootstrap import open_runtime
    from server.config import load_config

    runtime = open_runtime(load_config(config_path), migrate_schema=True)
    original = accounts.hash_password
    accounts.hash_password = functools.partial(generate_password_hash, method=FAST_PASSWORD_HASH)
    tokens: dict[str, dict[str, list[str]]] = {}
    try:
        for code, counts in plan.items():
            tokens[code] = {"kiosk": [], "teller": []}
            for i in range(1, counts["kiosk"] + 1):
                token = accounts.add_device(runtime, f"{code}-kiosk{i}", "kiosk", branch_code=code)
                tokens[code]["kiosk"].append(token)
            for i in range(1, counts["teller"] + 1):
                name = f"{code}-teller{i}"
                accounts.save_staff(runtime, name, "teller", PASSWORD, branch_code=code)
                tokens[code]["teller"].append(accounts.login(runtime, name, PASSWORD)["token"])
    finally:
        accounts.hash_password = original
        runtime.db.dispose()
    return tokens


# --- the storage's own commit rate --------------------------------------------------------------------


def commit_rate(dsn: str, connections: int, seconds: float) -> dict[str, Any]:
    """Bare durable commits of one small row, from ``connections`` connections (one thread each)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS commit_probe (id bigserial PRIMARY KEY, v text NOT NULL)")
    latencies: list[list[float]] = [[] for _ in range(connections)]
    opened = [psycopg.connect(dsn) for _ in range(connections)]
    start = time.perf_counter() + 0.2
    deadline = start + seconds

    def writer(index: int) -> None:
        db = opened[index]
        while time.perf_counter() < start:
            time.sleep(0.001)
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            db.execute("INSERT INTO commit_probe (v) VALUES (%s)", ("A001",))
            db.commit()
            latencies[index].append(time.perf_counter() - began)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for db in opened:
        db.close()
    flat = [x for per in latencies for x in per]
    return {"connections": connections, "per_s": round(len(flat) / seconds, 1), "p50_ms": ms(quantile(flat, 0.5)),
            "p99_ms": ms(quantile(flat, 0.99)), "count": len(flat)}


# --- watching PostgreSQL and the CPUs ------------------------------------------------------------------


ACTIVITY = """
SELECT state, wait_event_type, wait_event FROM pg_stat_activity
 WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


class ActivitySampler:
    """Samples ``pg_stat_activity`` every ~50 ms on a connection of its own while a phase runs."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.connection = psycopg.connect(dsn, autocommit=True)
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.samples = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = self.connection.execute(ACTIVITY, (DATABASE,)).fetchall()
            active = [r for r in rows if r[0] == "active"]
            self.samples.append({
                "sessions": len(rows),
                "active": len(active),
                "idle_in_transaction": sum(1 for r in rows if r[0] == "idle in transaction"),
                "lock": sum(1 for r in active if r[1] == "Lock"),
                "events": [f"{r[1]}:{r[2]}" if r[1] else "CPU" for r in active],
            })
            self._stop.wait(SAMPLE_EVERY_S)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return summarize_activity(self.samples)

    def close(self) -> None:
        self.connection.close()


def summarize_activity(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and median sessions active and waiting on locks per sample, the share of the active ones
    waiting on a lock (summed over the samples), and how often each wait event was seen."""
    if not samples:
        return {"samples": 0}
    active = [s["active"] for s in samples]
    lock = [s["lock"] for s in samples]
    events: Counter[str] = Counter(e for s in samples for e in s["events"])
    return {
        "samples": len(samples),
        "sessions_mean": round(statistics.fmean(s["sessions"] for s in samples), 2),
        "active_mean": round(statistics.fmean(active), 2),
        "active_median": statistics.median(active),
        "lock_mean": round(statistics.fmean(lock), 2),
        "lock_median": statistics.median(lock),
        "lock_share": round(sum(lock) / sum(active), 3) if sum(active) else 0.0,
        "idle_in_transaction_mean": round(statistics.fmean(s["idle_in_transaction"] for s in samples), 2),
        "wait_events": {name: round(n / len(samples), 2) for name, n in events.most_common(8)},
    }


def processes() -> dict[int, tuple[int, str, float, int]]:
    """Every process on the machine: pid -> (parent pid, name, utime + stime in seconds, start time),
    from /proc (the start time tells a pid used again from the same process)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError), \
                    open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                head, tail = handle.read().rsplit(")", 1)
                fields = tail.split()
                found[int(entry)] = (int(fields[1]), head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick,
                                     int(fields[19]))
    return found


def machine_busy_s() -> float:
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used during a phase by the serve processes, PostgreSQL (postmaster and every backend),
    Redis, the clients, this process, and the rest of the machine (named: on a shared machine,
    other work takes cores too)."""

    def __init__(self, postmaster: int, redis: int) -> None:
        self.postmaster, self.redis = postmaster, redis

    @staticmethod
    def read() -> dict[str, Any]:
        return {"at": time.perf_counter(), "processes": processes(), "machine": machine_busy_s()}

    def used(self, before: dict[str, Any], after: dict[str, Any], serve_pids: list[int],
             client_pids: list[int]) -> dict[str, Any]:
        """Each part's CPU over the span, in % of one core; the machine's in % of all its cores. A
        process that ended during the span is missing from its part (and lands in ``other_pct``)."""
        span = after["at"] - before["at"]
        then, now = before["processes"], after["processes"]

        def pct(seconds: float) -> float:
            return round(100 * seconds / span, 1)

        def delta(pid: int) -> float:
            if pid not in now:
                return 0.0
            return now[pid][2] - (then[pid][2] if pid in then and then[pid][3] == now[pid][3] else 0.0)

        pg = [self.postmaster, *(pid for pid, (ppid, *_) in now.items() if ppid == self.postmaster)]
        parts = {"serve": serve_pids, "postgres": pg, "redis": [self.redis], "clients": client_pids,
                 "bench": [os.getpid()]}
        ours = {pid for pids in parts.values() for pid in pids}
        machine = after["machine"] - before["machine"]
        others = sorted(((delta(pid), f"{now[pid][1]} ({pid})") for pid in now if pid not in ours), reverse=True)
        return {
            "serve_pct": [pct(delta(pid)) for pid in serve_pids],
            **{f"{name}_pct": pct(sum(delta(pid) for pid in pids)) for name, pids in parts.items() if name != "serve"},
            # The rest of the machine: other work on a shared machine, the kernel, ended processes.
            "other_pct": pct(max(0.0, machine - sum(delta(pid) for pid in ours))),
            "other_top": {name: pct(seconds) for seconds, name in others[:3] if pct(seconds) >= 1},
            "machine_pct": round(100 * machine / span / (os.cpu_count() or 1), 1),
        }


# --- the clients -------------------------------------------------------------------------------------


def _client(task: tuple[str, int, list[tuple[str, str]], float, float]) -> dict[str, Any]:
    """One client (a process of the pool): ``kind`` requests on one kept-alive connection to ``port``
    from ``start`` until ``deadline`` (wall-clock times shared by all clients), turning through
    ``jobs`` (token, service code or counter number). Only answers that arrive by the deadline count."""
    kind, port, jobs, start, deadline = task
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    timed: list[float] = []
    errors: Counter[str] = Counter()
    while (left := start - time.time()) > 0:
        time.sleep(min(left, 0.01))
    i = 0
    while time.time() < deadline:
        token, what = jobs[i % len(jobs)]
        i += 1
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if kind == "health":
            method, path, body, headers = "GET", "/api/v1/health", None, {}
        elif kind == "issue":
            method, path, body = "POST", "/api/v1/tickets", json.dumps({"service": what})
        else:
            method, path, body = "POST", f"/api/v1/counters/{what}/call-next", None
        try:
            began = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            took = time.perf_counter() - began
            if response.status in (200, 201):
                if time.time() <= deadline:
                    timed.append(took)
            else:
                code = ""
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    code = " " + json.loads(answer)["error"]["code"]
                errors[f"{response.status}{code}"] += 1
            if kind == "call_next" and response.status == 200:
                connection.request("POST", f"/api/v1/counters/{what}/no-show", headers=headers)
                freed = connection.getresponse()
                freed.read()
                if freed.status != 200:
                    errors[f"no-show {freed.status}"] += 1
        except (OSError, http.client.HTTPException) as exc:
            errors[f"{type(exc).__name__}"] += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.close()
    return {"timed": timed, "errors": dict(errors), "pid": os.getpid()}


def _warm(_: int) -> int:
    time.sleep(0.2)  # long enough that every worker of the pool gets one
    return os.getpid()


def deal(items: list[Any], clients: int) -> list[list[Any]]:
    """``items`` dealt round-robin to ``clients`` lists (fewer items than clients: some share one)."""
    if len(items) < clients:
        return [[items[i % len(items)]] for i in range(clients)]
    return [items[i::clients] for i in range(clients)]


def kiosk_jobs(tokens: dict[str, dict[str, list[str]]], clients: int) -> list[list[tuple[str, str]]]:
    """Each client's turn through the branches: the branches dealt round-robin, each branch's kiosk
    asking for both services in turn."""
    per_branch = [[(kiosks["kiosk"][0], service) for service in SERVICES] for kiosks in tokens.values()]
    out = []
    for share in deal(per_branch, clients):
        # Service A of every branch of the share, then B of every one: consecutive requests of a
        # client are for different branches.
        out.append([job for s in range(len(SERVICES)) for job in (branch[s] for branch in share)])
    return out


def teller_jobs(tokens: dict[str, dict[str, list[str]]], clients: int) -> list[list[tuple[str, str]]]:
    """Each client's turn through its share of the tellers (every teller at its own counter)."""
    tellers = [(token, str(i)) for branch in tokens.values() for i, token in enumerate(branch["teller"], 1)]
    # Counter 1 of every branch, then counter 2, ...: consecutive calls are at different branches.
    tellers.sort(key=lambda job: int(job[1]))
    return deal(tellers, clients)


class QuietWait:
    """Before a phase, wait (at most ``per_phase`` seconds, ``budget`` in the whole run) until the
    machine's other work takes less than ``QUIET_OTHER_PCT`` of one core over a second: on a
    shared machine, a phase then starts when the cores are ours rather than in the middle of
    someone else's burst. What it found is kept with each phase's figures."""

    def __init__(self, meter: CpuMeter, budget: float, per_phase: float = 10.0) -> None:
        self.meter, self.left, self.per_phase = meter, budget, per_phase

    def __call__(self, serve_pids: list[int]) -> dict[str, Any]:
        began = time.perf_counter()
        while True:
            before = self.meter.read()
            time.sleep(1.0)
            other = self.meter.used(before, self.meter.read(), serve_pids, [])["other_pct"]
            waited = time.perf_counter() - began
            if other < QUIET_OTHER_PCT or waited >= min(self.per_phase, self.left):
                self.left = max(0.0, self.left - waited)
                return {"waited_s": round(waited, 1), "other_pct": other, "quiet": other < QUIET_OTHER_PCT}


def run_phase(pool: ProcessPoolExecutor, kind: str, ports: list[int], jobs: list[list[tuple[str, str]]],
              seconds: float, sampler: ActivitySampler, meter: CpuMeter, serve_pids: list[int],
              quiet: QuietWait | None = None, profile: Path | None = None) -> dict[str, Any]:
    """``len(jobs)`` clients dealt round-robin over ``ports`` for ``seconds``; throughput, latency,
    errors, what PostgreSQL's sessions were doing and the CPU each part used (and, with ``profile``,
    py-spy's samples of the first serve process written there)."""
    before_start = quiet(serve_pids) if quiet is not None else None
    start = time.time() + 1.0  # every client connected and waiting before the clock runs
    deadline = start + seconds
    tasks = [(kind, ports[i % len(ports)], jobs[i], start, deadline) for i in range(len(jobs))]
    future = pool.map(_client, tasks)
    while time.time() < start:
        time.sleep(0.005)
    before = meter.read()
    sampler.start()
    spy = None
    if profile is not None:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(serve_pids[0]),
                                "--duration", str(max(1, int(seconds) - 1)), "--rate", "100", "--format", "raw",
                                "--output", str(profile), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(max(0.0, deadline - time.time()))
    activity = sampler.stop()
    after = meter.read()
    results = list(future)
    if spy is not None:
        spy.wait(30)
    timed = [x for r in results for x in r["timed"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    return {"kind": kind, "processes": len(ports), "clients": len(jobs), "seconds": seconds,
            "per_s": round(len(timed) / seconds, 1), "p50_ms": ms(quantile(timed, 0.5)),
            "p99_ms": ms(quantile(timed, 0.99)), "count": len(timed), "errors": dict(errors),
            "cpu": meter.used(before, after, serve_pids, sorted({r["pid"] for r in results})), "postgres": activity,
            "quiet_before": before_start}


def profile_summary(path: Path, top: int = 12) -> dict[str, Any]:
    """py-spy's collapsed stacks summed up: the share of the samples in which each function of
    server/ was on the stack (inclusive), and the functions (any) that were running (self)."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in stack.split(";")]
        for frame in set(frames):
            if "server/" in frame and "/site-packages/" not in frame:
                inclusive[frame] += n
        leaf[frames[-1]] += n
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str]) -> dict[str, float]:
        return {name: round(n / total, 3) for name, n in counter.most_common(top)}

    return {"samples": total, "server_inclusive": share(inclusive), "self": share(leaf)}


# --- servers -----------------------------------------------------------------------------------------


def open_counters(port: int, tokens: dict[str, dict[str, list[str]]]) -> None:
    """Sign every teller in at their counter (``POST /counters/N/open``), eight at a time."""
    jobs = [(token, i) for branch in tokens.values() for i, token in enumerate(branch["teller"], 1)]

    def run(share: list[tuple[str, int]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for token, number in share:
            connection.request("POST", f"/api/v1/counters/{number}/open", headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"opening counter {number}: HTTP {response.status} {body[:200]!r}")
        connection.close()

    with ThreadPoolExecutor(8) as threads:
        list(threads.map(run, deal(jobs, 8)))


# --- the figures -------------------------------------------------------------------------------------


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per number of processes and kind, the median over the rounds of throughput, p50 and p99."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        out.setdefault(str(run["processes"]), {}).setdefault(run["kind"], {"rounds": []})["rounds"].append(run)
    for by_kind in out.values():
        for figure in by_kind.values():
            rounds = figure.pop("rounds")
            for key in ("per_s", "p50_ms", "p99_ms"):
                values = [r[key] for r in rounds if r[key] is not None]
                figure[key] = round(statistics.median(values), 2) if values else None
            figure["per_s_rounds"] = [r["per_s"] for r in rounds]
            figure["machine_cpu_pct"] = statistics.median(r["cpu"]["machine_pct"] for r in rounds)
            figure["serve_cpu_pct"] = statistics.median(sum(r["cpu"]["serve_pct"]) for r in rounds)
            figure["postgres_cpu_pct"] = statistics.median(r["cpu"]["postgres_pct"] for r in rounds)
            figure["clients_cpu_pct"] = statistics.median(r["cpu"]["clients_pct"] for r in rounds)
            figure["redis_cpu_pct"] = statistics.median(r["cpu"]["redis_pct"] for r in rounds)
            figure["other_cpu_pct"] = statistics.median(r["cpu"]["other_pct"] for r in rounds)
            figure["lock_share"] = statistics.median(r["postgres"].get("lock_share", 0.0) for r in rounds)
            figure["active_mean"] = statistics.median(r["postgres"].get("active_mean", 0.0) for r in rounds)
    return out


def targets(summary: dict[str, dict[str, dict[str, Any]]], hot: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The issue's targets, computed from the medians (bench/report.py renders the same figures)."""
    out: list[dict[str, Any]] = []
    one, two = summary.get("1", {}), summary.get("2", {})
    for kind in ("issue", "call_next"):
        if kind in one and kind in two and one[kind]["per_s"]:
            growth = two[kind]["per_s"] / one[kind]["per_s"]
            out.append({"target": f"{kind}: 2 processes >= {TARGET_GROWTH}x the throughput of 1 process",
                        "figure": round(growth, 2), "met": growth >= TARGET_GROWTH})
        if all(kind in s and "health" in s and s["health"]["per_s"] for s in (one, two)):
            r1 = one[kind]["per_s"] / one["health"]["per_s"]
            r2 = two[kind]["per_s"] / two["health"]["per_s"]
            out.append({"target": f"{kind}: ratio to the cheapest endpoint no worse than with 1 process",
                        "figure": [round(r1, 3), round(r2, 3)], "met": r2 >= r1})
    if hot and hot.get("postgres", {}).get("samples"):
        pg = hot["postgres"]
        # Of the sessions in a transaction (running a statement, or idle in one while the server's
        # Python runs): bench/report.py says why.
        busy = pg["active_mean"] + pg.get("idle_in_transaction_mean", 0.0)
        share = round(pg["lock_mean"] / busy, 3) if busy else 0.0
        out.append({"target": "hot spot: <= 1/4 of sessions (in a transaction) waiting on locks", "figure": share,
                    "met": share <= TARGET_LOCK_SHARE})
    return out


def growth_verdict(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One line: how throughput grows from one process to two, beside the cheapest endpoint, and
    which resource was spent (the machine's cores, or sessions waiting on each other)."""
    one, two = summary.get("1", {}), summary.get("2", {})
    if not all(k in one and k in two for k in KINDS):
        return "incomplete: not every phase ran with 1 and 2 processes"
    parts = []
    for kind in KINDS:
        parts.append(f"{kind.replace('_', '-')} {two[kind]['per_s'] / one[kind]['per_s']:.2f}x")
    busiest = max(two[k]["machine_cpu_pct"] for k in ("issue", "call_next"))
    locks = max(two[k]["lock_share"] for k in ("issue", "call_next"))
    growth = [two[k]["per_s"] / one[k]["per_s"] for k in ("issue", "call_next")]
    how = ("grows as the target asks" if min(growth) >= TARGET_GROWTH
           else "grows, short of the target" if statistics.fmean(growth) >= 1.1 else "does not grow")
    if busiest >= 90:
        bound = f"the machine's {os.cpu_count()} cores were {busiest:.0f}% busy with 2 processes"
    elif locks >= TARGET_LOCK_SHARE:
        bound = f"{locks:.0%} of the active database sessions waited on locks"
    else:
        bound = f"the machine's cores were {busiest:.0f}% busy, {locks:.0%} of active sessions on locks"
    return f"2 processes / 1: {', '.join(parts)} — throughput {how}; {bound}"


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine(pg_version: str, redis_version: str) -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "postgresql": pg_version, "redis": redis_version}


# --- the run -----------------------------------------------------------------------------------------


def main() -> None:
    from tests.integration.harness import DeployedProcess, RedisServer
    from tests.support.pg import start_cluster

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=3, help="1-process and 2-process rounds (medians)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--counters", type=int, default=3, help="counters (and tellers) per branch")
    parser.add_argument("--commit-seconds", type=float, default=3.0)
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds in all to wait, before phases, for other work on the machine to quieten")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the first serve process in round 1's phases (costs CPU: not for the figures)")
    args = parser.parse_args()
    began = time.perf_counter()
    results: dict[str, Any] = {"command": " ".join(["bench/scaleout.py", *sys.argv[1:]]), "git": git_info(),
                               "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    folder = Path(tempfile.mkdtemp(prefix="callwise-scaleout-"))
    redis = RedisServer()
    cluster = None
    processes: list[Any] = []
    sampler: ActivitySampler | None = None
    try:
        say("starting PostgreSQL (fsync on, synchronous_commit on) and Redis ...")
        cluster = start_cluster(durable=True)
        redis.start()
        import psycopg

        admin_dsn = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
            settings = {name: admin.execute(f"SHOW {name}").fetchone()[0]
                        for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method",
                                     "server_version", "max_connections")}
        redis_version = subprocess.run([redis.binary, "--version"], capture_output=True, text=True).stdout.strip()
        results["machine"] = machine(settings["server_version"], redis_version)
        results["postgres"] = settings
        dsn = f"postgresql://postgres@127.0.0.1:{cluster.port}/{DATABASE}"
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{DATABASE}"

        say(f"durable commits on this cluster, 1 and 16 connections, {args.commit_seconds:g} s each ...")
        results["commits"] = [commit_rate(dsn, n, args.commit_seconds) for n in (1, 16)]
        for row in results["commits"]:
            say(f"  {row['connections']:>2} connections: {row['per_s']}/s, p50 {row['p50_ms']} ms, "
                f"p99 {row['p99_ms']} ms")

        zone = midday_zone(datetime.now(timezone.utc))
        config_text = scaleout_config(database_url, redis.url, args.branches, zone, args.counters)
        plan = account_plan(args.branches, args.counters)
        results["settings"] = {"branches": args.branches, "services_per_branch": len(SERVICES),
                               "counters_per_branch": args.counters, "timezone": zone, "clients": args.clients,
                               "seconds": args.seconds, "rounds": args.rounds, "hot_clients": HOT_CLIENTS,
                               "quiet_wait_s": args.quiet_wait,
                               "kiosks": sum(p["kiosk"] for p in plan.values()),
                               "tellers": sum(p["teller"] for p in plan.values())}
        say(f"{args.branches} branches in {zone}: migrating, {results['settings']['kiosks']} kiosks and "
            f"{results['settings']['tellers']} tellers ...")
        t0 = time.perf_counter()
        (folder / "provision").mkdir()
        (folder / "provision" / "config.toml").write_text(config_text, encoding="utf-8")
        tokens = provision(folder / "provision" / "config.toml", plan)
        results["accounts_s"] = round(time.perf_counter() - t0, 1)

        for index in (1, 2):
            (folder / f"serve{index}").mkdir()
            processes.append(DeployedProcess(folder / f"serve{index}", config_text, 0))
        starts: list[float] = []

        def start(process: Any) -> None:
            t = time.perf_counter()
            process.start(timeout=120)
            starts.append(round(time.perf_counter() - t, 1))

        start(processes[0])
        say(f"process 1 up in {starts[-1]} s; opening {results['settings']['tellers']} counters ...")
        open_counters(processes[0].port, tokens)

        context = multiprocessing.get_context("spawn")  # clean clients: no threads or sockets inherited
        runs: list[dict[str, Any]] = []
        kiosks, tellers = kiosk_jobs(tokens, args.clients), teller_jobs(tokens, args.clients)
        with ProcessPoolExecutor(max_workers=max(args.clients, HOT_CLIENTS), mp_context=context) as pool:
            list(pool.map(_warm, range(max(args.clients, HOT_CLIENTS))))
            postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
            assert redis.process is not None
            meter = CpuMeter(postmaster, redis.process.pid)
            sampler = ActivitySampler(dsn)
            quiet = QuietWait(meter, args.quiet_wait)
            for round_ in range(1, args.rounds + 1):
                for n in (1, 2):
                    if n == 2 and not processes[1].running_now:
                        start(processes[1])
                    if n == 1 and processes[1].running_now:
                        processes[1].stop()
                    running = processes[:n]
                    ports, pids = [p.port for p in running], [p.pid for p in running]
                    for kind in KINDS:
                        jobs = tellers if kind == "call_next" else kiosks
                        spy = folder / f"profile-{n}-{kind}.txt" if args.profile and round_ == 1 else None
                        run = run_phase(pool, kind, ports, jobs, args.seconds, sampler, meter, pids, quiet, spy)
                        if spy is not None and spy.exists():
                            run["profile"] = profile_summary(spy)
                            say(f"profile of serve process 1, {kind}: {json.dumps(run['profile'], indent=1)}")
                        run["round"] = round_
                        runs.append(run)
                        cpu = run["cpu"]
                        say(f"round {round_}, {n} process{'es' if n > 1 else ''}, {kind}: {run['per_s']}/s "
                            f"p50 {run['p50_ms']} p99 {run['p99_ms']} ms; CPU % of a core: serve {cpu['serve_pct']}, "
                            f"postgres {cpu['postgres_pct']}, clients {cpu['clients_pct']}, other {cpu['other_pct']} "
                            f"{cpu['other_top']}; pg sessions active {run['postgres'].get('active_mean')}, on locks "
                            f"{run['postgres'].get('lock_mean')}; waited {run['quiet_before']['waited_s']} s for quiet"
                            + (f"; errors {run['errors']}" if run["errors"] else ""))
            results["runs"] = runs
            results["serve_start_s"] = starts

            say(f"hot spot: {HOT_CLIENTS} kiosks of {branch_code(HOT_BRANCH)}, service A, 2 processes ...")
            if not processes[1].running_now:
                start(processes[1])
            hot_tokens = tokens[branch_code(HOT_BRANCH)]["kiosk"]
            hot_jobs = [[(hot_tokens[i], "A")] for i in range(HOT_CLIENTS)]
            hot = run_phase(pool, "issue", [p.port for p in processes], hot_jobs, args.seconds, sampler, meter,
                            [p.pid for p in processes], quiet)
            results["hot_spot"] = hot
            pg = hot["postgres"]
            say(f"hot spot: {hot['per_s']}/s p50 {hot['p50_ms']} p99 {hot['p99_ms']} ms; sessions active "
                f"{pg['active_mean']} (median {pg['active_median']}), waiting on locks {pg['lock_mean']} (median "
                f"{pg['lock_median']}): {pg['lock_share']:.0%} of the active; wait events {pg['wait_events']}")
        summary = medians(runs)
        results["summary"] = summary
        results["targets"] = targets(summary, results["hot_spot"])
        results["verdict"] = growth_verdict(summary)
        results["wall_s"] = round(time.perf_counter() - began, 1)
        say(results["verdict"])
        for t in results["targets"]:
            say(f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['figure']}")
        say(f"done in {results['wall_s'] / 60:.1f} min")
    finally:
        if sampler is not None:
            sampler.close()
        for process in processes:
            process.kill()
        redis.close()
        if cluster is not None:
            cluster.stop("immediate")
            shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        say(f"wrote {args.json}")


if __name__ == "__main__":
    main()
