"""Realtime load on one Callwise server: many branches, one big room, and how many clients it holds.

    .venv/bin/python bench/realtime.py [--only branches,big_room,connections] [--json FILE]

With the default sizes it runs about six minutes on a 2-core machine (branches ~2, big_room ~1,
connections ~3): most of it is the server accepting 9,000 Socket.IO connections at 15-20 ms of its
CPU each. Needs ``aiohttp`` (python-socketio's asyncio client), from the ``bench`` extra.

Each section starts its own ``python -m server serve`` (gevent, SQLite in WAL with synchronous=FULL,
in a temporary directory, its own process group) and connects python-socketio's asyncio client
(websocket transport only) from several separate load processes. Every process runs on this machine
and stamps with ``time.time()``; the load processes send their receive stamps back to this process.
Percentiles are nearest-rank (bench/async_modes.py's helper, as are the server, the display load
process and the /proc readings).

``branches`` — realistic realtime load. A generated config with ``--branches`` branches (default 200),
each with two services and 8 counters. Per branch, real authenticated clients of the right role join
the rooms the server gives them: 1 display (device token), 1 manager and 8 tellers (log-in tokens,
each teller signed in at their own counter): 2,000 clients. Every client's first ``state_snapshot``
is checked for its role and branch. Tickets are issued beforehand. Then call-next arrives on an
open-loop schedule — call k is sent at t0 + k / ``--calls-per-s`` whatever happened to the others,
spread round-robin over the branches (in a shuffled order) and their counters — each followed by the
teller's no-show that frees the counter (``--finish complete``: start, then complete). Measured: the
time from sending each call-next to ``ticket_called`` arriving at *that branch's* display (p50, p99,
max, count, missed; target p99 < 100 ms; also per 5-second window, which tells steady stalls from a
server falling behind), the same for the branch's staff, the server's CPU, and, before the calls, how
long ``GET /api/v1/health`` takes every 20 ms on the loaded but idle server (a stalled event loop
shows there).

``big_room`` — one room of ``--room-clients`` displays of one branch (default 1,000): for each of
``--room-calls`` calls, one at a time, the time from sending call-next until *all* displays received
``ticket_called``. In the same run, the library ceiling: a bare Flask-SocketIO app (this file, run
as ``--bare-server PORT``: gevent, the same pywsgi server and TCP_NODELAY handler as ``serve``, the
same ping settings) whose ``POST /emit`` does ``socketio.emit("ticket_called", payload, to=room)``
to as many clients in one room. The two servers' broadcasts alternate, so noise on the machine hits
both alike. Reported: all-received p50/p99 for each and callwise / bare (target <= 1.2).

``connections`` — display clients added in steps of ``--step`` (each step from ``--procs`` new load
processes) up to ``--max-clients``. After each step: are all still connected, does a call's
``ticket_called`` reach every one, the server's RSS (kB per client from its growth over the
pre-connect baseline), the connect rate and the server's idle CPU. Stops at the cap or at the first
failure, and says which (target: at least 5,000 held).

Every measured phase also reports the CPU that other processes used meanwhile: on a shared machine,
read the latencies beside it.

Bench shortcuts, none of which the measured paths take: accounts are created in this process with
the server's own functions (server/accounts.py) before the server starts, with 1-iteration PBKDF2
password hashes instead of scrypt (1,800 scrypt log-ins would take four minutes; the server checks
whichever method a hash names); the generated config raises the idle-counter alert thresholds, since
the bench's tellers call only every ``branches * 8 / calls-per-s`` seconds and 1,600 simultaneous
idle-counter alerts would be an artefact of the bench, not of a branch.
"""

from __future__ import annotations

import sys

# ``--bare-server`` is a gevent server: patch the standard library before anything else is imported,
# as ``python -m server serve`` does (server/__main__.py).
if __name__ == "__main__" and sys.argv[1:2] == ["--bare-server"]:
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.async_modes import (  # noqa: E402
    Server,
    ask_all,
    connect_timed,
    load_worker,
    machine_cpu_ticks,
    machine_info,
    ms,
    percentile,
    proc_cpu_seconds,
    proc_status,
    raise_nofile_limit,
    wait_for_quiet_machine,
)
from tests.support.process import ServerProcess, repo_env  # noqa: E402

SECTIONS = ("branches", "big_room", "connections")
ROLES = ("display", "manager", "teller")  # the Socket.IO clients of a branch in the branches section
PASSWORD = "bench-password-9"
# Fast enough for 1,800 log-ins in seconds; see the module docstring.
FAST_PASSWORD_HASH = "pbkdf2:sha256:1"
BARE_ROOM = "b1:displays"
TARGET_P99_MS = 100.0
TARGET_RATIO = 1.2
TARGET_CLIENTS = 5000


def say(message: str) -> None:
    """A progress line on stderr."""
    print(f"[realtime {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def summary(values: list[float]) -> dict[str, Any]:
    """p50 / p99 / max in milliseconds of values in seconds (nearest rank), and how many."""
    return {"p50_ms": ms(percentile(values, 50)), "p99_ms": ms(percentile(values, 99)),
            "max_ms": ms(max(values) if values else None), "count": len(values)}


def server_stderr_figures(server: Server) -> dict[str, Any]:
    text = server.stderr(10_000_000)
    tracebacks = text.count("Traceback (most recent call last)")
    return {"tracebacks": tracebacks,
            "first_traceback": text[max(0, text.find("Traceback") - 200):][:3000] if tracebacks else ""}


class CpuWindow:
    """CPU seconds of the server, of the load processes (and this one), and of everything else on
    the machine, over a window: the last is the noise a shared machine adds to the figures."""

    def __init__(self, server_pid: int, load_pids: list[int]) -> None:
        self.server_pid, self.load_pids = server_pid, load_pids
        self.started = time.monotonic()
        self.server0 = proc_cpu_seconds(server_pid)
        self.load0 = self._load()
        self.busy0, self.total0 = machine_cpu_ticks()

    def _load(self) -> float:
        total = proc_cpu_seconds(os.getpid())
        for pid in self.load_pids:
            with contextlib.suppress(OSError):
                total += proc_cpu_seconds(pid)
        return total

    def close(self) -> dict[str, Any]:
        wall = time.monotonic() - self.started
        server = proc_cpu_seconds(self.server_pid) - self.server0
        load = self._load() - self.load0
        busy1, total1 = machine_cpu_ticks()
        machine = (busy1 - self.busy0) / os.sysconf("SC_CLK_TCK")
        return {"wall_s": round(wall, 2), "server_cpu_s": round(server, 2),
                "server_cpu_pct": round(100.0 * server / max(wall, 1e-9), 1),
                "load_processes_cpu_s": round(load, 2),
                "other_processes_cpu_s": round(max(0.0, machine - server - load), 2),
                "machine_cpu_busy_pct": round(100.0 * (busy1 - self.busy0) / max(1, total1 - self.total0), 1)}


class Cleanup:
    """Everything a section starts, ended on the way out whatever happened: load processes first
    (SIGKILL: a graceful disconnect of thousands of clients only costs time), then each server's
    whole process group."""

    def __init__(self) -> None:
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.servers: list[Any] = []

    def __enter__(self) -> Cleanup:
        return self

    def __exit__(self, *_exc: Any) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join(5)
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()
        for server in self.servers:
            server.kill()


# --- accounts and config ---------------------------------------------------------------------------

def provision(config_path: Path, plan: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """Create devices and staff per branch with the server's own account functions, and log the
    staff in; returns per branch code ``{"display": [tokens], "kiosk": [tokens], "manager": [tokens],
    "teller": [tokens]}``. ``plan`` maps a branch code to how many of each role."""
    from werkzeug.security import generate_password_hash

    from server import accounts
    from server.bootstrap import open_runtime
    from server.config import load_config

    runtime = open_runtime(load_config(config_path))
    original = accounts.hash_password
    accounts.hash_password = functools.partial(generate_password_hash, method=FAST_PASSWORD_HASH)
    tokens: dict[str, dict[str, Any]] = {}
    try:
        for code, counts in plan.items():
            mine: dict[str, Any] = {role: [] for role in counts}
            for role, count in counts.items():
                for i in range(1, count + 1):
                    name = f"{code}-{role}{i}"
                    if role in ("display", "kiosk"):
                        mine[role].append(accounts.add_device(runtime, name, role, branch_code=code))
                    else:
                        accounts.save_staff(runtime, name, role, PASSWORD, branch_code=code)
                        mine[role].append(accounts.login(runtime, name, PASSWORD)["token"])
            tokens[code] = mine
    finally:
        accounts.hash_password = original
        runtime.db.dispose()
    return tokens


def branches_config(directory: Path, port: int, branches: int, counters: int) -> str:
    """A config.toml with ``branches`` branches of two services and ``counters`` counters each."""
    lines = [
        "# Generated by bench/realtime.py: many branches on one server.",
        "[server]",
        'mode = "production"',
        'secret_key = "bench-only-not-a-secret-0123456789abcdef"',
        f'database_url = "sqlite:///{directory / "callwise.db"}"',
        f'public_url = "http://127.0.0.1:{port}"',
        'host = "127.0.0.1"',
        f"port = {port}",
        'async_mode = "gevent"',
        "",
        "[clock]",
        'mode = "system"',
        "",
        "[limits]",
        "kiosk_tickets_per_minute = 100000",
        "login_attempts_per_minute = 100000",
        "",
        "[alerts]",
        "# The bench's tellers call every few minutes; see bench/realtime.py's docstring.",
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
            'timezone = "Asia/Shanghai"',
            # The system clock: open around the clock, whatever hour the bench runs at.
            'opening_time = "00:00"', 'closing_time = "23:59:59"', 'last_ticket_time = "23:59:59"', "",
            "  [[branches.services]]", '  code = "A"', '  name = { zh = "现金存取", en = "Cash" }',
            '  kind = "quick"', "  expected_minutes = 3", "",
            "  [[branches.services]]", '  code = "B"', '  name = { zh = "转账汇款", en = "Transfers" }',
            '  kind = "quick"', "  expected_minutes = 4", "",
        ]
        for c in range(1, counters + 1):
            lines += ["  [[branches.counters]]", f"  number = {c}", '  services = ["A", "B"]', ""]
    return "\n".join(lines)


def branch_code(b: int) -> str:
    return f"b{b:03d}"


class BranchesServer(Server):
    """bench/async_modes.py's server, on a generated many-branch config instead of tests/branch.toml."""

    def __init__(self, directory: Path, branches: int, counters: int) -> None:
        self.branch_count, self.counter_count = branches, counters
        super().__init__(directory, "gevent")

    def write_config(self) -> Path:
        path = self.directory / "config.toml"
        path.write_text(branches_config(self.directory, self.port, self.branch_count, self.counter_count),
                        encoding="utf-8")
        return path


async def _http_batch(url: str, jobs: list[tuple[str, str, str, Any]], concurrency: int) -> Counter[str]:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    failures: Counter[str] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def one(method: str, path: str, token: str, body: Any) -> None:
            async with sem, http.request(method, url + path, json=body,
                                         headers={"Authorization": f"Bearer {token}"}) as answer:
                text = await answer.text()
                if answer.status >= 300:
                    failures[f"{method} {path} -> {answer.status} {text[:120]}"] += 1

        await asyncio.gather(*(one(*job) for job in jobs))
    return failures


def http_batch(url: str, jobs: list[tuple[str, str, str, Any]], concurrency: int = 8) -> None:
    """Send ``(method, path, bearer token, json body)`` requests, ``concurrency`` at a time; raise on
    any answer that is not 2xx."""
    failures = asyncio.run(_http_batch(url, jobs, concurrency))
    if failures:
        raise RuntimeError(f"{sum(failures.values())} setup requests failed, e.g. {failures.most_common(3)}")


def health_probe(url: str, seconds: float, every: float = 0.02) -> dict[str, Any]:
    """``GET /api/v1/health`` every ``every`` s for ``seconds`` on one kept-alive connection: on an idle
    server each takes a millisecond or two, so a long one means the event loop was blocked."""
    import requests

    latencies: list[float] = []
    with requests.Session() as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            http.get(f"{url}/api/v1/health", timeout=30).raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(every)
    return {"seconds": seconds, **summary(latencies), "over_50ms": sum(1 for x in latencies if x > 0.05)}


def start_load(ctx: Any, cleanup: Cleanup, target: Any, args: tuple[Any, ...], name: str) -> Any:
    """One load process (spawned, daemon); returns this end of its pipe."""
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=target, daemon=True, name=name, args=(*args, child_end))
    proc.start()
    child_end.close()
    cleanup.procs.append(proc)
    cleanup.conns.append(parent_end)
    return parent_end


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def connect_figures(answers: list[dict[str, Any]], wall: float, requested: int) -> dict[str, Any]:
    times = [t for a in answers for t in a["connect_times"]]
    errors: Counter[str] = Counter()
    for a in answers:
        errors.update(a["errors"])
    connected = sum(a["connected"] for a in answers)
    return {"requested": requested, "connected": connected, "failed": requested - connected,
            "phase_s": round(wall, 2), "per_s": round(connected / wall, 1) if wall > 0 else None,
            "per_client_p50_ms": ms(percentile(times, 50)), "per_client_p99_ms": ms(percentile(times, 99)),
            "errors": dict(errors)}


# --- the load processes ---------------------------------------------------------------------------------

def quiet_client_logs() -> None:
    """Thousands of clients that lose their connection would each log it on stderr; the load
    processes count disconnects and their reasons instead."""
    for name in ("engineio.client", "socketio.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def display_worker(*args: Any) -> None:
    """bench/async_modes.py's display load process, without the clients' own log lines."""
    quiet_client_logs()
    load_worker(*args)


def branch_worker(index: int, url: str, clients: list[tuple[str, str, str]], concurrency: int,
                  connect_timeout: float, conn: Any) -> None:
    """Entry point of one load process of the ``branches`` section: ``clients`` are
    ``(branch code, role, token)``."""
    raise_nofile_limit()
    quiet_client_logs()
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        asyncio.run(_branch_main(index, url, clients, concurrency, connect_timeout, conn))


async def _branch_main(index: int, url: str, clients: list[tuple[str, str, str]], concurrency: int,
                       connect_timeout: float, conn: Any) -> None:
    import socketio

    loop = asyncio.get_running_loop()
    # (role, branch code, ticket number) -> receive stamps of ticket_called
    stamps: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    changed = asyncio.Event()
    events: dict[str, Counter[str]] = defaultdict(Counter)  # role -> event -> count
    snapshot_problems: Counter[str] = Counter()
    disconnects: Counter[str] = Counter()
    disconnect_times: list[float] = []
    errors: Counter[str] = Counter()
    connect_times: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    def make_client(code: str, role: str) -> Any:
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        seen_snapshot = False

        @sio.on("ticket_called")
        async def on_called(data: Any) -> None:
            now = time.time()
            stamps[(role, code, str(data.get("number") if isinstance(data, dict) else None))].append(now)
            events[role]["ticket_called"] += 1
            changed.set()

        @sio.on("state_snapshot")
        async def on_snapshot(data: Any) -> None:
            nonlocal seen_snapshot
            events[role]["state_snapshot"] += 1
            if seen_snapshot:
                return
            seen_snapshot = True
            got_role = data.get("role") if isinstance(data, dict) else None
            got_branch = (data.get("branch") or {}).get("code") if isinstance(data, dict) else None
            if got_role != role:
                snapshot_problems[f"{role} got role {got_role!r}"] += 1
            if got_branch != code:
                snapshot_problems[f"{role} of {code} got branch {got_branch!r}"] += 1

        @sio.on("disconnect")
        async def on_disconnect(*args: Any) -> None:
            disconnects[f"{role}: {args[0] if args else 'disconnect'}"] += 1
            disconnect_times.append(time.time())

        @sio.on("*")
        async def on_other(event: str, *_args: Any) -> None:
            events[role][event] += 1

        return sio

    async def connect_one(sio: Any, token: str) -> None:
        async with sem:
            await connect_timed(sio, url, token, connect_timeout, connect_times, errors)

    sios = [(code, role, make_client(code, role)) for code, role, _ in clients]
    started = time.time()
    await asyncio.gather(*(connect_one(sio, token) for (_, _, sio), (_, _, token) in zip(sios, clients, strict=False)))
    conn.send(("connected", {"worker": index, "connected": sum(1 for *_, s in sios if s.connected),
                             "connect_times": connect_times, "phase_s": time.time() - started,
                             "errors": dict(errors)}))

    def status() -> dict[str, Any]:
        by_role: Counter[str] = Counter(role for _, role, s in sios if s.connected)
        return {"connected": sum(by_role.values()), "connected_by_role": dict(by_role),
                "disconnects": dict(disconnects), "errors": dict(errors),
                "first_disconnect_at": min(disconnect_times, default=None),
                "snapshot_problems": dict(snapshot_problems), "events": {r: dict(c) for r, c in events.items()}}

    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message[0] == "collect":
            # Wait until every connected client of the call's branch (display and staff) has its
            # ticket_called, or the timeout; then send all stamps.
            _, keys, timeout = message
            deadline = time.monotonic() + timeout
            while True:
                expected = Counter(code for code, _, s in sios if s.connected)
                missing = [(code, number) for code, number in keys
                           if sum(len(stamps.get((role, code, number), ())) for role in ROLES) < expected[code]]
                remaining = deadline - time.monotonic()
                if not missing or remaining <= 0:
                    break
                changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
            conn.send(("collected", {"stamps": [(*key, values) for key, values in stamps.items()]}))
        elif message[0] == "status":
            conn.send(("status", status()))
        elif message[0] == "stop":
            conn.send(("stopped", {}))
            return


# --- section 1: branches ---------------------------------------------------------------------------

async def _run_calls(url: str, plan: list[tuple[str, int, str]], rate: float, finish: str) -> list[dict[str, Any]]:
    """The open-loop schedule: call k is sent at t0 + k / rate. Each call is its own task, and only a
    counter still busy with its previous call (never with the default sizes) holds one back."""
    import aiohttp

    records: list[dict[str, Any]] = [{} for _ in plan]
    busy: dict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        t0 = time.time() + 0.5

        async def post(path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
            async with http.post(url + path, headers=headers, json=body) as answer:
                return answer.status, await answer.json(content_type=None)

        async def one(k: int, code: str, counter: int, token: str) -> None:
            record = records[k]
            scheduled = t0 + k / rate
            record.update({"k": k, "branch": code, "counter": counter, "scheduled": scheduled})
            await asyncio.sleep(max(0.0, scheduled - time.time()))
            headers = {"Authorization": f"Bearer {token}"}
            base = f"/api/v1/counters/{counter}"
            async with busy[(code, counter)]:
                record["sent"] = sent = time.time()
                try:
                    status, body = await post(f"{base}/call-next", headers)
                except Exception as exc:  # noqa: BLE001 - a failed request is a figure
                    record["status"] = f"{type(exc).__name__}"
                    return
                record["answered"] = time.time()
                record["status"] = status
                if status != 200:
                    record["error"] = str(body)[:200]
                    return
                record["number"] = str(body.get("number"))
                record["send_lag"] = sent - scheduled
                steps = ([("no-show", None)] if finish == "no-show"
                         else [("start", None), ("complete", {"outcome": "done"})])
                for action, payload in steps:
                    try:
                        status, body = await post(f"{base}/{action}", headers, payload)
                    except Exception as exc:  # noqa: BLE001
                        status, body = type(exc).__name__, None
                    if status != 200:
                        record["finish_error"] = f"{action}: {status} {str(body)[:200]}"
                        break

        await asyncio.gather(*(one(k, *item) for k, item in enumerate(plan)))
    return records


def run_branches(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Section 1; see the module docstring."""
    import requests

    counts = {"display": 1, "manager": 1, "teller": args.counters, "kiosk": 1}
    total_calls = int(round(args.calls_per_s * args.seconds))
    result: dict[str, Any] = {
        "ok": False, "error": None, "branches": args.branches,
        "clients_per_branch": {"display": 1, "manager": 1, "teller": args.counters},
        "clients": args.branches * (2 + args.counters), "procs": args.procs, "calls_per_s": args.calls_per_s,
        "seconds": args.seconds, "finish": args.finish, "target_p99_ms": TARGET_P99_MS, "meets_target": False,
    }
    ctx = multiprocessing.get_context("spawn")
    with Cleanup() as cleanup:
        server = BranchesServer(workdir, args.branches, args.counters)
        cleanup.servers.append(server)
        try:
            setup: dict[str, Any] = {}
            began = time.monotonic()
            say(f"branches: {args.branches} branches, accounts for {result['clients']} clients ...")
            codes = [branch_code(b) for b in range(1, args.branches + 1)]
            tokens = provision(server.config_path, {code: counts for code in codes})
            setup["provision_s"] = round(time.monotonic() - began, 1)
            began = time.monotonic()
            server.start(timeout=180)
            setup["server_start_s"] = round(time.monotonic() - began, 1)
            result["server_pid"] = server.pid
            began = time.monotonic()
            http_batch(server.url, [("POST", f"/api/v1/counters/{n}/open", tokens[code]["teller"][n - 1], None)
                                    for code in codes for n in range(1, args.counters + 1)])
            setup["open_counters_s"] = round(time.monotonic() - began, 1)
            # The calls: branches in a shuffled order, round-robin; within a branch, its counters in turn.
            # Each branch gets as many tickets as it will have calls.
            order = codes[:]
            random.Random(1).shuffle(order)
            plan = []
            for k in range(total_calls):
                code = order[k % len(order)]
                counter = (k // len(order)) % args.counters + 1
                plan.append((code, counter, tokens[code]["teller"][counter - 1]))
            began = time.monotonic()
            per_branch = Counter(code for code, _, _ in plan)
            http_batch(server.url, [("POST", "/api/v1/tickets", tokens[code]["kiosk"][0], {"service": "AB"[i % 2]})
                                    for code, count in per_branch.items() for i in range(count)])
            setup["issue_tickets_s"] = round(time.monotonic() - began, 1)
            setup["tickets_issued"] = total_calls
            result["setup"] = setup
            time.sleep(1.0)
            rss_before = proc_status(server.pid)["VmRSS"]

            # Connect: every branch's clients in one load process, the branches dealt round-robin.
            say(f"branches: connecting {result['clients']} clients from {args.procs} load processes ...")
            per_proc: list[list[tuple[str, str, str]]] = [[] for _ in range(args.procs)]
            for b, code in enumerate(codes):
                mine = per_proc[b % args.procs]
                mine.append((code, "display", tokens[code]["display"][0]))
                mine.append((code, "manager", tokens[code]["manager"][0]))
                mine += [(code, "teller", token) for token in tokens[code]["teller"]]
            cpu = CpuWindow(server.pid, [])
            conns = [start_load(ctx, cleanup, branch_worker,
                                (i, server.url, clients, args.connect_concurrency, args.connect_timeout),
                                f"bench-branches-{i}") for i, clients in enumerate(per_proc) if clients]
            answers = ask_all(conns, None, "connected", args.connect_phase_timeout)
            # The connect phase as the load processes saw it (their start-up, importing the client, excluded).
            result["connect"] = connect_figures(answers, max(a["phase_s"] for a in answers), result["clients"])
            connect_cpu = cpu.close()["server_cpu_s"]
            result["connect"]["server_cpu_s"] = connect_cpu
            result["connect"]["server_cpu_ms_per_client"] = round(
                1000 * connect_cpu / max(1, result["connect"]["connected"]), 2)
            status = ask_all(conns, ("status",), "status", 30)
            by_role: Counter[str] = Counter()
            problems: Counter[str] = Counter()
            for s in status:
                by_role.update(s["connected_by_role"])
                problems.update(s["snapshot_problems"])
            result["connect"]["connected_by_role"] = dict(by_role)
            result["connect"]["wrong_role_or_branch"] = dict(problems)
            if problems:
                raise RuntimeError(f"clients got the wrong role or branch in their state_snapshot: {dict(problems)}")
            if not server.alive():
                raise RuntimeError(f"server died while clients connected:\n{server.stderr()}")
            time.sleep(args.settle)
            after = proc_status(server.pid)
            connected = result["connect"]["connected"]
            result["server"] = {"rss_before_connect_kb": rss_before, "rss_after_connect_kb": after["VmRSS"],
                                "kb_per_client": (round((after["VmRSS"] - rss_before) / connected, 1)
                                                  if connected else None)}
            say("branches: probing the idle server's responsiveness ...")
            idle = CpuWindow(server.pid, [])
            result["idle_probe"] = health_probe(server.url, args.probe_seconds)
            result["idle_probe"]["server_cpu_pct"] = idle.close()["server_cpu_pct"]

            if args.quiet_wait > 0:
                result["machine_before_calls"] = wait_for_quiet_machine(
                    args.quiet_below, args.quiet_wait, (server.pid, os.getpid(), *(p.pid for p in cleanup.procs)))
            say(f"branches: {total_calls} calls at {args.calls_per_s}/s over {args.seconds} s ...")
            window = CpuWindow(server.pid, [p.pid for p in cleanup.procs])
            records = asyncio.run(_run_calls(server.url, plan, args.calls_per_s, args.finish))
            cpu_calls = window.close()
            answered = [r for r in records if r.get("status") == 200]
            keys_by_branch: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for r in answered:
                keys_by_branch[r["branch"]].append((r["branch"], r["number"]))
            collected = []
            for i, conn in enumerate(conns):
                keys = [key for code in {c for c, _, _ in per_proc[i]} for key in keys_by_branch.get(code, [])]
                conn.send(("collect", keys, args.event_timeout))
            for i, conn in enumerate(conns):
                if not conn.poll(args.event_timeout + 30):
                    raise RuntimeError(f"load process {i} did not send its stamps")
                collected.append(conn.recv()[1])
            stamps: dict[tuple[str, str, str], list[float]] = {}
            for answer in collected:
                for role, code, number, values in answer["stamps"]:
                    stamps[(role, code, number)] = values

            latencies, staff_latencies = [], []
            missed = staff_missed = duplicates = 0
            t0 = records[0]["scheduled"]
            windows: dict[int, list[float | None]] = defaultdict(list)  # 5-second windows of the schedule
            for r in answered:
                display = stamps.get(("display", r["branch"], r["number"]), [])
                window = windows[int((r["scheduled"] - t0) // 5) * 5]
                if display:
                    latencies.append(min(display) - r["sent"])
                    window.append(latencies[-1])
                    duplicates += len(display) - 1
                else:
                    missed += 1
                    window.append(None)
                staff = stamps.get(("manager", r["branch"], r["number"]), []) + \
                    stamps.get(("teller", r["branch"], r["number"]), [])
                staff_latencies += [t - r["sent"] for t in staff]
                staff_missed += max(0, 1 + args.counters - len(staff))
            http_errors = Counter(str(r.get("status")) for r in records if r.get("status") != 200)
            finish_errors = Counter(r["finish_error"].split(" ")[0] + " " + r["finish_error"].split(" ")[1]
                                    for r in records if r.get("finish_error"))
            http_ms = [r["answered"] - r["sent"] for r in answered]
            lags = [r["send_lag"] for r in answered]
            span = (max(r["sent"] for r in answered) - min(r["sent"] for r in answered)) if len(answered) > 1 else 0
            display_summary = summary(latencies)
            staff_summary = summary(staff_latencies)
            result["calls"] = {
                "sent": len(records), "answered": len(answered), "http_errors": dict(http_errors),
                "finish_errors": dict(finish_errors),
                "count": len(latencies), "missed": missed, "duplicates": duplicates,
                "latency_p50_ms": display_summary["p50_ms"], "latency_p99_ms": display_summary["p99_ms"],
                "latency_max_ms": display_summary["max_ms"],
                "over_100ms": sum(1 for x in latencies if x > 0.1),
                "staff_deliveries": len(staff_latencies), "staff_missed": staff_missed,
                "staff_latency_p50_ms": staff_summary["p50_ms"], "staff_latency_p99_ms": staff_summary["p99_ms"],
                "staff_latency_max_ms": staff_summary["max_ms"],
                "http_call_next_p50_ms": ms(percentile(http_ms, 50)),
                "http_call_next_p99_ms": ms(percentile(http_ms, 99)),
                "send_lag_max_ms": ms(max(lags) if lags else None),
                "achieved_calls_per_s": round((len(answered) - 1) / span, 2) if span > 0 else None,
                **cpu_calls,
                # What the server spent per call, its background work (sweeps, heartbeats, pings) included.
                "server_cpu_ms_per_call": (round(1000 * cpu_calls["server_cpu_s"] / len(answered), 1)
                                           if answered else None),
                # Steady stalls look alike in every window; a server falling behind, worse and worse.
                "windows": [{"from_s": start, "calls": len(values),
                             "missed": sum(1 for v in values if v is None),
                             "p50_ms": ms(percentile([v for v in values if v is not None], 50)),
                             "max_ms": ms(max((v for v in values if v is not None), default=None))}
                            for start, values in sorted(windows.items())],
            }
            p99 = result["calls"]["latency_p99_ms"]
            result["meets_target"] = bool(p99 is not None and p99 < TARGET_P99_MS and missed == 0)
            say(f"branches: display latency p50 {display_summary['p50_ms']} ms, p99 {p99} ms, "
                f"max {display_summary['max_ms']} ms, {len(latencies)}/{len(records)} delivered, {missed} missed")

            status = ask_all(conns, ("status",), "status", 30)
            events: dict[str, Counter[str]] = defaultdict(Counter)
            disconnects: Counter[str] = Counter()
            errors: Counter[str] = Counter()
            for s in status:
                disconnects.update(s["disconnects"])
                errors.update(s["errors"])
                for role, counted in s["events"].items():
                    events[role].update(counted)
            result["events_received"] = {role: dict(sorted(c.items())) for role, c in sorted(events.items())}
            first_drop = min((s["first_disconnect_at"] for s in status if s["first_disconnect_at"]), default=None)
            result["end"] = {"still_connected": sum(s["connected"] for s in status), "disconnects": dict(disconnects),
                             "first_disconnect_s": round(first_drop - t0, 1) if first_drop else None,
                             "client_errors": dict(errors), "server_alive": server.alive(),
                             "server_rss_kb": proc_status(server.pid)["VmRSS"] if server.alive() else None}
            # A cross-check that the manager and tellers are heard by the server as what they are.
            with requests.Session() as http:
                code = codes[0]
                answer = http.get(f"{server.url}/api/v1/alerts", timeout=10,
                                  headers={"Authorization": f"Bearer {tokens[code]['manager'][0]}"})
                result["end"]["manager_alerts_status"] = answer.status_code
            result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - recorded; the other sections still run
            result["error"] = f"{type(exc).__name__}: {exc}"
            say(f"branches FAILED: {result['error']}")
        finally:
            result["server_stderr"] = server_stderr_figures(server)
    return result


# --- section 2: one big room, and the bare Flask-SocketIO ceiling -----------------------------------

def serve_bare(port: int) -> None:
    """The library ceiling: Flask-SocketIO in gevent mode, served exactly as ``serve`` serves
    (socketio.run with server/wsgi.py's NoDelayHandler, the same ping settings, its signal handling).
    Every client joins one room; ``POST /emit`` broadcasts its JSON body there as ``ticket_called``."""
    from flask import Flask, request
    from flask_socketio import SocketIO, join_room

    from server.wsgi import NoDelayHandler, stop_on_signals

    app = Flask("bare")
    socketio = SocketIO(app, async_mode="gevent", ping_interval=10, ping_timeout=10)

    @socketio.on("connect")
    def on_connect(_auth: Any = None) -> None:
        join_room(BARE_ROOM)

    @app.post("/emit")
    def emit() -> dict[str, Any]:
        socketio.emit("ticket_called", request.get_json(force=True), to=BARE_ROOM)
        return {"sent": True}

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    stop_on_signals(socketio)
    socketio.run(app, host="127.0.0.1", port=port, log_output=False, handler_class=NoDelayHandler)


class BareServer(ServerProcess):
    """``python bench/realtime.py --bare-server PORT`` in its own process group."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, name="bare")

    def start(self, timeout: float = 30.0) -> None:
        self.spawn([sys.executable, str(Path(__file__).resolve()), "--bare-server", str(self.port)],
                   repo_env(), timeout=timeout, what="the bare server")


def broadcast_figures(calls: list[dict[str, Any]], delays: list[float]) -> dict[str, Any]:
    complete = [c["all_s"] for c in calls if c["received"] >= c["expected"] and c["all_s"] is not None]
    return {
        "all_received_p50_ms": ms(percentile(complete, 50)),
        "all_received_p99_ms": ms(percentile(complete, 99)),
        "all_received_max_ms": ms(max(complete) if complete else None),
        "first_received_p50_ms": ms(percentile([c["first_s"] for c in calls if c["first_s"] is not None], 50)),
        "delivery_p50_ms": ms(percentile(delays, 50)),
        "delivery_p99_ms": ms(percentile(delays, 99)),
        "http_p50_ms": ms(percentile([c["http_s"] for c in calls], 50)),
        "broadcasts": len(calls),
        "deliveries": len(delays),
        "missed_deliveries": sum(max(0, c["expected"] - c["received"]) for c in calls),
        "incomplete_broadcasts": sum(1 for c in calls if c["received"] < c["expected"]),
        "per_call": [{"number": c["number"], "http_ms": ms(c["http_s"]), "expected": c["expected"],
                      "received": c["received"], "first_ms": ms(c["first_s"]), "all_ms": ms(c["all_s"])}
                     for c in calls],
    }


def measure_broadcast(conns: list[Any], send: Any, timeout: float) -> tuple[dict[str, Any], list[float]]:
    """``send()`` returns (number, sent, answered); then gather every load process's stamps for it."""
    number, sent, answered = send()
    answers = ask_all(conns, ("collect", number, timeout), "collected", timeout + 30)
    delays = [t - sent for a in answers for t in a["stamps"]]
    return ({"number": number, "http_s": answered - sent, "expected": sum(a["expected"] for a in answers),
             "received": len(delays), "first_s": min(delays) if delays else None,
             "all_s": max(delays) if delays else None}, delays)


class Teller:
    """Call-next and no-show at one counter of a (one-branch) Callwise server, over one HTTP session."""

    def __init__(self, url: str, token: str, counter: int = 1) -> None:
        import requests

        self.url, self.counter = url, counter
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def open(self) -> None:
        self.http.post(f"{self.url}/api/v1/counters/{self.counter}/open", timeout=30).raise_for_status()

    def call(self) -> tuple[str, float, float]:
        sent = time.time()
        answer = self.http.post(f"{self.url}/api/v1/counters/{self.counter}/call-next", timeout=30)
        answered = time.time()
        answer.raise_for_status()
        return str(answer.json()["number"]), sent, answered

    def no_show(self) -> None:
        self.http.post(f"{self.url}/api/v1/counters/{self.counter}/no-show", timeout=30).raise_for_status()


def one_branch_server(workdir: Path, tickets: int, cleanup: Cleanup) -> tuple[Server, Teller, str]:
    """bench/async_modes.py's server (tests/branch.toml), a teller signed in at counter 1 and
    ``tickets`` tickets waiting; returns the server, the teller and the display token."""
    server = Server(workdir, "gevent")
    cleanup.servers.append(server)
    tokens = provision(server.config_path, {"test": {"teller": 1, "display": 1, "kiosk": 1}})["test"]
    server.start()
    teller = Teller(server.url, tokens["teller"][0])
    teller.open()
    http_batch(server.url, [("POST", "/api/v1/tickets", tokens["kiosk"][0], {"service": "A"})] * tickets)
    return server, teller, tokens["display"][0]


def run_big_room(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Section 2; see the module docstring."""
    import requests

    result: dict[str, Any] = {"ok": False, "error": None, "clients": args.room_clients, "calls": args.room_calls,
                              "procs": args.procs, "target_ratio": TARGET_RATIO, "meets_target": False}
    ctx = multiprocessing.get_context("spawn")
    with Cleanup() as cleanup:
        server = bare = None
        try:
            say(f"big_room: callwise and bare servers, {args.room_clients} displays each ...")
            (workdir / "callwise").mkdir()
            server, teller, display_token = one_branch_server(workdir / "callwise", args.room_calls + 2, cleanup)
            bare = BareServer(workdir)
            cleanup.servers.append(bare)
            bare.start()
            rss0 = {"callwise": proc_status(server.pid)["VmRSS"], "bare": proc_status(bare.pid)["VmRSS"]}
            cpu0 = {"callwise": proc_cpu_seconds(server.pid), "bare": proc_cpu_seconds(bare.pid)}
            sides: dict[str, list[Any]] = {"callwise": [], "bare": []}
            started = time.time()
            for side, url, token in (("callwise", server.url, display_token), ("bare", bare.url, "bare")):
                for i, count in enumerate(split(args.room_clients, args.procs)):
                    sides[side].append(start_load(ctx, cleanup, display_worker,
                                                  (i, url, token, count, args.connect_concurrency,
                                                   args.connect_timeout), f"bench-room-{side}-{i}"))
            for side, pid in (("callwise", server.pid), ("bare", bare.pid)):
                answers = ask_all(sides[side], None, "connected", args.connect_phase_timeout)
                figures = connect_figures(answers, max(a["phase_s"] for a in answers), args.room_clients)
                figures["server_cpu_ms_per_client"] = round(
                    1000 * (proc_cpu_seconds(pid) - cpu0[side]) / max(1, figures["connected"]), 2)
                result[side] = {"connect": figures}
            say(f"big_room: connected in {time.time() - started:.1f} s; {args.room_calls} calls each ...")
            time.sleep(args.settle)
            for side, pid in (("callwise", server.pid), ("bare", bare.pid)):
                rss = proc_status(pid)["VmRSS"]
                connected = result[side]["connect"]["connected"]
                result[side]["rss_kb"] = rss
                result[side]["kb_per_client"] = round((rss - rss0[side]) / connected, 1) if connected else None

            http = requests.Session()
            sequence = 0

            def bare_send() -> tuple[str, float, float]:
                nonlocal sequence
                sequence += 1
                # The shape and size of the ticket_called Callwise sends (API.md), with the version it adds.
                payload = {"number": f"Z{sequence:03d}", "counter": 1, "service": "A", "recall": False,
                           "called_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                           "version": 1000 + sequence}
                sent = time.time()
                http.post(f"{bare.url}/emit", json=payload, timeout=30).raise_for_status()
                return payload["number"], sent, time.time()

            def callwise_send() -> tuple[str, float, float]:
                return teller.call()

            # One warm-up broadcast each (lazily loaded code, first-use caches), not counted.
            measure_broadcast(sides["callwise"], callwise_send, args.event_timeout)
            teller.no_show()
            measure_broadcast(sides["bare"], bare_send, args.event_timeout)
            if args.quiet_wait > 0:
                result["machine_before_calls"] = wait_for_quiet_machine(
                    args.quiet_below, args.quiet_wait,
                    (server.pid, bare.pid, os.getpid(), *(p.pid for p in cleanup.procs)))
            calls: dict[str, list[dict[str, Any]]] = {"callwise": [], "bare": []}
            delays: dict[str, list[float]] = {"callwise": [], "bare": []}
            bare_cpu0 = proc_cpu_seconds(bare.pid)
            window = CpuWindow(server.pid, [bare.pid, *(p.pid for p in cleanup.procs)])
            for i in range(args.room_calls):
                for side in (("callwise", "bare") if i % 2 == 0 else ("bare", "callwise")):
                    time.sleep(args.interval)
                    call, got = measure_broadcast(sides[side], callwise_send if side == "callwise" else bare_send,
                                                  args.event_timeout)
                    calls[side].append(call)
                    delays[side].extend(got)
                    if side == "callwise":
                        teller.no_show()
            phase = window.close()
            result["calls_phase"] = {k: phase[k] for k in ("wall_s", "other_processes_cpu_s", "machine_cpu_busy_pct")}
            for side in ("callwise", "bare"):
                result[side].update(broadcast_figures(calls[side], delays[side]))
            result["callwise"]["server_cpu_s"] = phase["server_cpu_s"]
            result["bare"]["server_cpu_s"] = round(proc_cpu_seconds(bare.pid) - bare_cpu0, 2)
            status = {side: ask_all(sides[side], ("status",), "status", 30) for side in sides}
            for side in sides:
                result[side]["still_connected"] = sum(s["connected"] for s in status[side])
                result[side]["disconnects"] = dict(sum((Counter(s["disconnects"]) for s in status[side]), Counter()))
                # Besides ticket_called: what else the room heard (Callwise's queue_changed and heartbeat).
                result[side]["other_events_received"] = dict(sum((Counter(s["other_events"]) for s in status[side]),
                                                                 Counter()))
            c, b = result["callwise"], result["bare"]
            if c["all_received_p50_ms"] and b["all_received_p50_ms"]:
                result["ratio_p50"] = round(c["all_received_p50_ms"] / b["all_received_p50_ms"], 2)
            if c["all_received_p99_ms"] and b["all_received_p99_ms"]:
                result["ratio_p99"] = round(c["all_received_p99_ms"] / b["all_received_p99_ms"], 2)
            result["meets_target"] = bool(result.get("ratio_p50") is not None and result["ratio_p50"] <= TARGET_RATIO
                                          and c["incomplete_broadcasts"] == 0)
            say(f"big_room: all received p50/p99 callwise {c['all_received_p50_ms']}/{c['all_received_p99_ms']} ms, "
                f"bare {b['all_received_p50_ms']}/{b['all_received_p99_ms']} ms, ratio p50 {result.get('ratio_p50')}")
            result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - recorded; the other sections still run
            result["error"] = f"{type(exc).__name__}: {exc}"
            say(f"big_room FAILED: {result['error']}")
        finally:
            if server is not None:
                result["server_stderr"] = server_stderr_figures(server)
            if bare is not None:
                text = bare.stderr()
                result["bare_server_tracebacks"] = text.count("Traceback (most recent call last)")
    return result


# --- section 3: connections ---------------------------------------------------------------------------

def run_connections(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Section 3; see the module docstring."""
    import socketio

    targets = list(range(args.step, args.max_clients, args.step)) + [args.max_clients]
    result: dict[str, Any] = {"ok": False, "error": None, "cap": args.max_clients, "step": args.step,
                              "procs_per_step": args.procs, "steps": [], "max_held": 0, "stopped_by": None,
                              "failure": None, "target_clients": TARGET_CLIENTS, "meets_target": False}
    ctx = multiprocessing.get_context("spawn")
    with Cleanup() as cleanup:
        server = None
        try:
            say(f"connections: up to {args.max_clients} displays in steps of {args.step} ...")
            server, teller, display_token = one_branch_server(workdir, len(targets) + 2, cleanup)
            # Warm-up: one connection and one call, so lazily loaded code is in the baseline, not per client.
            warm = socketio.Client(reconnection=False, handle_sigint=False)
            warm.connect(server.url, auth={"token": display_token}, transports=["websocket"], wait_timeout=10)
            teller.call()
            teller.no_show()
            warm.disconnect()
            time.sleep(args.settle)
            base = proc_status(server.pid)["VmRSS"]
            result["rss_base_kb"] = base
            conns: list[Any] = []
            held = 0
            for target in targets:
                new = target - held
                fresh = [start_load(ctx, cleanup, display_worker,
                                    (len(conns) + i, server.url, display_token, count, args.connect_concurrency,
                                     args.connect_timeout), f"bench-conn-{len(conns) + i}")
                         for i, count in enumerate(split(new, args.procs)) if count]
                window = CpuWindow(server.pid, [p.pid for p in cleanup.procs])
                row: dict[str, Any] = {"clients": target, "new": new}
                result["steps"].append(row)
                try:
                    answers = ask_all(fresh, None, "connected", args.connect_phase_timeout)
                except RuntimeError as exc:
                    row["error"] = str(exc)
                    result["stopped_by"], result["failure"] = "failure", f"step to {target}: {exc}"
                    break
                conns += fresh
                wall = max(a["phase_s"] for a in answers)
                figures = connect_figures(answers, wall, new)
                phase = window.close()
                row.update({"connect_s": figures["phase_s"], "connect_per_s": figures["per_s"],
                            "failed": figures["failed"], "errors": figures["errors"],
                            "connect_server_cpu_s": phase["server_cpu_s"],
                            "other_processes_cpu_s": phase["other_processes_cpu_s"]})
                problems = []
                if figures["failed"]:
                    problems.append(f"{figures['failed']} of {new} connects failed: {figures['errors']}")
                if not server.alive():
                    problems.append("the server died")
                else:
                    number, sent, _ = teller.call()
                    answers = ask_all(conns, ("collect", number, args.event_timeout), "collected",
                                      args.event_timeout + 30)
                    delays = [t - sent for a in answers for t in a["stamps"]]
                    teller.no_show()
                    row["broadcast_received"] = len(delays)
                    row["broadcast_all_ms"] = ms(max(delays) if delays else None)
                    status = ask_all(conns, ("status",), "status", 30)
                    row["still_connected"] = sum(s["connected"] for s in status)
                    disconnects = sum((Counter(s["disconnects"]) for s in status), Counter())
                    if row["still_connected"] < target:
                        problems.append(f"{target - row['still_connected']} clients dropped ({dict(disconnects)})")
                    if len(delays) < target:
                        problems.append(f"the broadcast reached {len(delays)} of {target}")
                    # Idle: pings, and the heartbeat every screen gets at each alert sweep (every 2 s).
                    idle = CpuWindow(server.pid, [])
                    time.sleep(max(args.settle, 2.0))
                    row["idle_server_cpu_pct"] = idle.close()["server_cpu_pct"]
                    rss = proc_status(server.pid)["VmRSS"]
                    row["rss_kb"] = rss
                    row["kb_per_client"] = round((rss - base) / target, 1)
                say(f"connections: {target} clients, {row.get('still_connected')} connected, broadcast to "
                    f"{row.get('broadcast_received')} in {row.get('broadcast_all_ms')} ms, "
                    f"{figures['per_s']} connects/s, RSS {row.get('rss_kb', 0) // 1024} MB")
                if problems:
                    row["problems"] = problems
                    result["stopped_by"], result["failure"] = "failure", f"step to {target}: " + "; ".join(problems)
                    break
                held = target
            else:
                result["stopped_by"] = "cap"
            result["max_held"] = held
            good = [r for r in result["steps"] if r["clients"] <= held and "rss_kb" in r]
            if good:
                last = good[-1]
                result["rss_at_max_kb"] = last["rss_kb"]
                result["kb_per_client"] = last["kb_per_client"]
                total_wall = sum(r["connect_s"] for r in good)
                result["connect_per_s"] = round(held / total_wall, 1) if total_wall else None
                result["connect_server_cpu_ms_per_client"] = round(
                    1000 * sum(r["connect_server_cpu_s"] for r in good) / held, 2)
            result["meets_target"] = held >= TARGET_CLIENTS
            result["ok"] = True
        except Exception as exc:  # noqa: BLE001 - recorded
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["stopped_by"] = result["stopped_by"] or "error"
            say(f"connections FAILED: {result['error']}")
        finally:
            if server is not None:
                result["server_stderr"] = server_stderr_figures(server)
    return result


# --- main ---------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections (default: all)")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "realtime.json",
                        help="where the results go (default bench/results/realtime.json)")
    parser.add_argument("--procs", type=int, default=4, help="load processes (per server, per step) (default 4)")
    branches = parser.add_argument_group("branches")
    branches.add_argument("--branches", type=int, default=200, help="branches on the server (default 200)")
    branches.add_argument("--counters", type=int, default=8, help="counters, and tellers, per branch (default 8)")
    branches.add_argument("--calls-per-s", type=float, default=20.0, help="open-loop call rate (default 20)")
    branches.add_argument("--seconds", type=float, default=30.0, help="how long the calls arrive (default 30)")
    branches.add_argument("--finish", choices=("no-show", "complete"), default="no-show",
                          help="what frees the counter after a call (default no-show; complete = start + complete)")
    branches.add_argument("--probe-seconds", type=float, default=4.5,
                          help="idle health probe before the calls, s (default 4.5: two alert sweeps)")
    room = parser.add_argument_group("big_room")
    room.add_argument("--room-clients", type=int, default=1000, help="displays in the one room (default 1000)")
    room.add_argument("--room-calls", type=int, default=20, help="broadcasts measured on each server (default 20)")
    room.add_argument("--interval", type=float, default=0.3, help="pause before each broadcast, s (default 0.3)")
    conn = parser.add_argument_group("connections")
    conn.add_argument("--max-clients", type=int, default=6000, help="the cap (default 6000)")
    conn.add_argument("--step", type=int, default=1000, help="clients added per step (default 1000)")
    parser.add_argument("--connect-concurrency", type=int, default=25, help="connects in flight per load process")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="per-connection timeout, s")
    parser.add_argument("--connect-phase-timeout", type=float, default=180.0, help="one connect phase, s")
    parser.add_argument("--event-timeout", type=float, default=10.0, help="wait for deliveries after a call, s")
    parser.add_argument("--settle", type=float, default=1.0, help="pause before reading memory, s")
    parser.add_argument("--quiet-below", type=float, default=20.0,
                        help="before measured calls, wait until other processes keep the machine less than "
                             "this %% busy")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="longest such wait, s (default 0: no wait; each phase reports the CPU others used)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directories (logs, databases)")
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    for name in args.only:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r} (known: {', '.join(SECTIONS)})")
    if min(args.procs, args.branches, args.counters, args.room_clients, args.room_calls, args.step,
           args.max_clients) < 1 or args.calls_per_s <= 0 or args.seconds <= 0:
        parser.error("sizes must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile_limit()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    executable = os.path.relpath(sys.executable) if sys.executable.startswith(str(Path.cwd())) else sys.executable
    began = time.monotonic()
    report: dict[str, Any] = {"meta": {
        "command": shlex.join([executable, *sys.argv]) if argv is None else shlex.join(["bench/realtime.py", *argv]),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(), "git": git_info(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }}
    runners = {"branches": run_branches, "big_room": run_big_room, "connections": run_connections}
    for name in args.only:
        workdir = Path(tempfile.mkdtemp(prefix=f"callwise-realtime-{name}-"))
        section_began = time.monotonic()
        try:
            report[name] = runners[name](args, workdir)
        except KeyboardInterrupt:  # every process the section started is gone by now (Cleanup)
            say(f"{name}: interrupted; nothing written")
            return 130
        finally:
            if args.keep_temp:
                say(f"{name}: files kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        report[name]["wall_s"] = round(time.monotonic() - section_began, 1)
        say(f"{name}: {'ok' if report[name]['ok'] else 'FAILED'} in {report[name]['wall_s']} s")
    report["meta"]["wall_s"] = round(time.monotonic() - began, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"results in {args.json} ({report['meta']['wall_s']} s)")
    print(json.dumps(headline(report), indent=2))
    return 0 if all(report[name]["ok"] for name in args.only) else 1


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures against their targets, for the terminal."""
    out: dict[str, Any] = {}
    if "branches" in report:
        calls = report["branches"].get("calls", {})
        out["branches"] = {k: calls.get(k) for k in ("sent", "count", "missed", "latency_p50_ms", "latency_p99_ms",
                                                      "latency_max_ms")}
        out["branches"]["meets_target"] = report["branches"]["meets_target"]
    if "big_room" in report:
        room = report["big_room"]
        out["big_room"] = {side: {k: room.get(side, {}).get(k) for k in ("all_received_p50_ms", "all_received_p99_ms")}
                           for side in ("callwise", "bare")}
        out["big_room"].update({k: room.get(k) for k in ("ratio_p50", "ratio_p99", "meets_target")})
    if "connections" in report:
        c = report["connections"]
        out["connections"] = {k: c.get(k) for k in ("max_held", "stopped_by", "failure", "kb_per_client",
                                                    "connect_per_s", "meets_target")}
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-server"]:
        serve_bare(int(sys.argv[2]))
    else:
        sys.exit(main())
