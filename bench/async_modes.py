"""Benchmark Flask-SocketIO's async modes (gevent, threading) for Callwise's lobby displays.

For each mode this starts a real ``python -m server serve`` (its own process group, a SQLite database
in a temporary directory), connects N Socket.IO display clients from several separate load processes
(python-socketio's asyncio client, websocket transport only), measures the server's memory and
threads, then makes M calls one at a time and measures how long each ``ticket_called`` takes to reach
every display, from the moment the teller's ``call-next`` request is sent.

    .venv/bin/python bench/async_modes.py --clients 1000 --json bench/results/async_modes.json

Needs ``aiohttp`` in the virtual environment (python-socketio's asyncio client uses it).

Figures reported per mode:
  * connected / failed clients, connect-phase time, per-client connect time (p50, p99);
  * server RSS (/proc/<pid>/status VmRSS) before and after the connects → kB per connection, VmHWM;
  * server threads (/proc/<pid>/status Threads) before and after;
  * per-client delivery latency (call-next sent → client's handler runs), p50 / p99 / max over
    every client and every call; per broadcast: first client, all clients (p50, max);
  * call-next HTTP response time, missed deliveries, disconnects and errors, server CPU seconds,
    tracebacks in the server's stderr.

All processes run on the same machine and use ``time.time()``: the load processes send their receive
stamps back to this process. Percentiles are nearest-rank. The load processes share the machine's
cores with the server, so the latencies include their own scheduling; that is the same for both modes.
Other work on the machine skews the latencies too: before each mode and again before its calls the
script waits (up to --quiet-wait) until other processes leave the CPUs nearly idle, and it reports the
CPU they used during the calls (the table says NOISY when that exceeds 10 % of one core).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: the repository's packages (server, tests.support)
    sys.path.insert(0, str(REPO))

from tests.support.callwise import CallwiseServer, write_config  # noqa: E402

MODES = ("gevent", "threading")
PASSWORD = "bench-password-9"
PACKAGES = ("flask", "flask-socketio", "python-socketio", "python-engineio", "gevent", "gevent-websocket",
            "simple-websocket", "werkzeug", "aiohttp", "sqlalchemy")


# --- small helpers ---------------------------------------------------------------------------------

def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (children inherit it); return the new limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != hard_target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard_target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


async def connect_timed(sio: Any, url: str, token: str, timeout: float, connect_times: list[float],
                        errors: Counter[str]) -> None:
    """Connect one asyncio client over websocket with ``token``; its connect time goes to
    ``connect_times``, a failure (counted by kind) to ``errors``."""
    started = time.time()
    try:
        await asyncio.wait_for(
            sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=timeout),
            timeout=timeout + 5,
        )
        connect_times.append(time.time() - started)
    except Exception as exc:  # noqa: BLE001 - every failure is a figure
        errors[f"connect: {type(exc).__name__}: {str(exc)[:120]}"] += 1
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.disconnect(), 5)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 2)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "VmSize", "Threads"):
                out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_fields() -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq softirq steal ...)."""
    with open("/proc/stat", encoding="ascii") as handle:
        return [int(v) for v in handle.readline().split()[1:]]


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total_kb = None
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_total_kb = int(line.split()[1])
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "nproc": int(nproc) if nproc.isdigit() else len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "mem_total_mb": mem_total_kb // 1024 if mem_total_kb else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "rlimit_nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
    }


def wait_for_quiet_machine(threshold_pct: float, max_wait_s: float, own_pids: tuple[int, ...] = (),
                           window_s: float = 2.0) -> dict[str, Any]:
    """Wait (up to ``max_wait_s``) until the machine's CPUs, less what ``own_pids`` use, are less than
    ``threshold_pct`` busy over a ``window_s`` window, so that other work on a shared machine does not
    skew the figures. Returns the last window's figure and how long it waited."""
    started = time.monotonic()
    ncpu = os.cpu_count() or 1
    while True:
        busy0, total0 = machine_cpu_ticks()
        own0 = sum(proc_cpu_seconds(pid) for pid in own_pids)
        time.sleep(window_s)
        busy1, total1 = machine_cpu_ticks()
        own1 = sum(proc_cpu_seconds(pid) for pid in own_pids)
        span_s = (total1 - total0) / os.sysconf("SC_CLK_TCK") or 1e-9  # CPU-seconds of all CPUs
        busy_s = (busy1 - busy0) / os.sysconf("SC_CLK_TCK") - (own1 - own0)
        busy_pct = max(0.0, 100.0 * busy_s / span_s)
        waited = time.monotonic() - started
        if busy_pct < threshold_pct or waited >= max_wait_s:
            return {"busy_pct": round(busy_pct, 1), "waited_s": round(waited, 1), "quiet": busy_pct < threshold_pct,
                    "ncpu": ncpu}


# --- the load processes ------------------------------------------------------------------------------

def load_worker(index: int, url: str, token: str, clients: int, concurrency: int,
                connect_timeout: float, conn: Any) -> None:
    """Entry point of one load process (multiprocessing spawn): ``clients`` display connections."""
    raise_nofile_limit()
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        asyncio.run(_load_main(index, url, token, clients, concurrency, connect_timeout, conn))


async def _load_main(index: int, url: str, token: str, clients: int, concurrency: int,
                     connect_timeout: float, conn: Any) -> None:
    import socketio  # imported here: only the load processes need the asyncio client

    loop = asyncio.get_running_loop()
    received: dict[str, list[float]] = {}
    changed = asyncio.Event()
    disconnects: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    connect_times: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    sios: list[Any] = []
    other_events: Counter[str] = Counter()

    def make_client() -> Any:
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)

        @sio.on("ticket_called")
        async def on_called(data: Any) -> None:
            now = time.time()
            number = data.get("number") if isinstance(data, dict) else None
            received.setdefault(str(number), []).append(now)
            changed.set()

        @sio.on("disconnect")
        async def on_disconnect(*args: Any) -> None:
            disconnects[str(args[0]) if args else "disconnect"] += 1

        @sio.on("connect_error")
        async def on_connect_error(data: Any = None) -> None:
            errors[f"connect_error: {str(data)[:120]}"] += 1

        @sio.on("*")
        async def on_other(event: str, *_args: Any) -> None:
            other_events[event] += 1

        return sio

    async def connect_one(sio: Any) -> None:
        async with sem:
            await connect_timed(sio, url, token, connect_timeout, connect_times, errors)

    sios = [make_client() for _ in range(clients)]
    phase_started = time.time()
    await asyncio.gather(*(connect_one(s) for s in sios))
    conn.send(("connected", {
        "worker": index,
        "connected": sum(1 for s in sios if s.connected),
        "failed": clients - len(connect_times),
        "connect_times": connect_times,
        "phase_s": time.time() - phase_started,
        "errors": dict(errors),
    }))

    while True:
        message = await loop.run_in_executor(None, conn.recv)
        kind = message[0]
        if kind == "collect":
            _, number, timeout = message
            deadline = time.monotonic() + timeout
            while True:
                expected = sum(1 for s in sios if s.connected)
                got = len(received.get(number, []))
                remaining = deadline - time.monotonic()
                if got >= expected or remaining <= 0:
                    break
                changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
            conn.send(("collected", {"stamps": list(received.get(number, [])), "expected": expected}))
        elif kind == "status":
            conn.send(("status", {
                "connected": sum(1 for s in sios if s.connected),
                "disconnects": dict(disconnects),
                "errors": dict(errors),
                "other_events": dict(other_events),
            }))
        elif kind == "stop":
            outcomes = await asyncio.gather(*(asyncio.wait_for(s.disconnect(), 10) for s in sios if s.connected),
                                            return_exceptions=True)
            for s in sios:  # a disconnect that timed out leaves its aiohttp session open
                http = getattr(s.eio, "http", None)
                if http is not None and not http.closed:
                    with contextlib.suppress(Exception):
                        await http.close()
            conn.send(("stopped", {"timeouts": sum(1 for o in outcomes if isinstance(o, BaseException))}))
            return


# --- one server ----------------------------------------------------------------------------------

# The benches' tellers free a counter with a no-show the moment after calling: load, not customers,
# so the customer's grace before a no-show (60 s) does not apply.
LOAD_QUEUE = "\n[queue]\nno_show_grace_s = 0\n"


class Server(CallwiseServer):
    """tests/support/callwise.py's server (``python -m server serve`` in its own process group, its
    accounts made with the CLI) on tests/branch.toml, in Flask-SocketIO's async ``mode``."""

    def __init__(self, directory: Path, mode: str) -> None:
        self.mode = mode
        super().__init__(directory)

    def write_config(self) -> Path:
        path = write_config(self.directory, self.port, async_mode=self.mode)
        path.write_text(path.read_text(encoding="utf-8") + LOAD_QUEUE, encoding="utf-8")
        return path

    def start(self, timeout: float = 60.0) -> None:
        super().start(timeout)


# --- one mode ------------------------------------------------------------------------------------

def ask_all(conns: list[Any], message: tuple[Any, ...] | None, expect: str, timeout: float) -> list[dict[str, Any]]:
    """Send ``message`` to every load process (if given) and wait for each one's ``expect`` answer."""
    if message is not None:
        for conn in conns:
            conn.send(message)
    deadline = time.monotonic() + timeout
    answers = []
    for i, conn in enumerate(conns):
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"load process {i} did not answer {expect!r} within {timeout:.0f} s")
        kind, payload = conn.recv()
        if kind != expect:
            raise RuntimeError(f"load process {i} answered {kind!r}, expected {expect!r}")
        answers.append(payload)
    return answers


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    import requests
    import socketio

    result: dict[str, Any] = {"mode": mode, "clients_requested": args.clients, "ok": False}
    workdir = Path(tempfile.mkdtemp(prefix=f"callwise-bench-{mode}-"))
    server = Server(workdir, mode)
    ctx = multiprocessing.get_context("spawn")
    procs: list[Any] = []
    conns: list[Any] = []
    tracebacks_before_stop: int | None = None
    try:
        server.cli("staff", "add", "bench-teller", "--role", "teller", "--password-stdin", stdin=PASSWORD + "\n")
        display_token = server.cli("device", "add", "bench-display", "--kind", "display").strip().splitlines()[-1]
        kiosk_token = server.cli("device", "add", "bench-kiosk", "--kind", "kiosk").strip().splitlines()[-1]
        server.start()
        result["server_pid"] = server.pid
        with open("/proc/loadavg", encoding="ascii") as handle:
            result["loadavg_at_start"] = handle.read().split()[:3]

        http = requests.Session()
        teller = http.post(f"{server.url}/api/v1/auth/login",
                           json={"username": "bench-teller", "password": PASSWORD}, timeout=10)
        teller.raise_for_status()
        teller_h = {"Authorization": f"Bearer {teller.json()['token']}"}
        kiosk_h = {"Authorization": f"Bearer {kiosk_token}"}
        http.post(f"{server.url}/api/v1/counters/1/open", headers=teller_h, timeout=10).raise_for_status()

        def one_call(timeout: float = 30.0) -> tuple[str, float, float]:
            """Issue a ticket, let its queue_changed settle, call it; return (number, t_sent, t_answered)."""
            http.post(f"{server.url}/api/v1/tickets", json={"service": "A"}, headers=kiosk_h,
                      timeout=timeout).raise_for_status()
            time.sleep(args.interval)
            sent = time.time()
            answer = http.post(f"{server.url}/api/v1/counters/1/call-next", headers=teller_h, timeout=timeout)
            answered = time.time()
            answer.raise_for_status()
            return answer.json()["number"], sent, answered

        def finish_call(timeout: float = 30.0) -> None:
            http.post(f"{server.url}/api/v1/counters/1/start", headers=teller_h, timeout=timeout).raise_for_status()
            http.post(f"{server.url}/api/v1/counters/1/complete", json={"outcome": "done"}, headers=teller_h,
                      timeout=timeout).raise_for_status()

        # Warm-up: one display connection and one call, so lazily imported code and caches are in
        # the baseline, not counted as per-connection memory.
        warm = socketio.Client(reconnection=False, handle_sigint=False)
        warm.connect(server.url, auth={"token": display_token}, transports=["websocket"], wait_timeout=10)
        one_call()
        finish_call()
        warm.disconnect()
        time.sleep(args.settle)
        before = proc_status(server.pid)
        result["server_before"] = before

        # Connect phase: the load processes.
        per_worker = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0)
                      for i in range(args.procs)]
        cpu0 = proc_cpu_seconds(server.pid)
        started = time.time()
        for i, count in enumerate(per_worker):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=load_worker, daemon=True, name=f"bench-load-{i}",
                               args=(i, server.url, display_token, count, args.connect_concurrency,
                                     args.connect_timeout, child_end))
            proc.start()
            child_end.close()
            procs.append(proc)
            conns.append(parent_end)
        connected_answers = ask_all(conns, None, "connected", args.connect_phase_timeout)
        connect_wall = time.time() - started
        connect_times = [t for a in connected_answers for t in a["connect_times"]]
        connect_errors: Counter[str] = Counter()
        for a in connected_answers:
            connect_errors.update(a["errors"])
        result["connect"] = {
            "connected": sum(a["connected"] for a in connected_answers),
            "failed": sum(a["failed"] for a in connected_answers),
            "phase_s": round(connect_wall, 2),
            "per_client_p50_ms": ms(percentile(connect_times, 50)),
            "per_client_p99_ms": ms(percentile(connect_times, 99)),
            "per_client_max_ms": ms(max(connect_times) if connect_times else None),
            "errors": dict(connect_errors),
            "server_cpu_s": round(proc_cpu_seconds(server.pid) - cpu0, 2),
        }
        if not server.alive():
            raise RuntimeError(f"server died during the connect phase:\n{server.stderr()}")
        cpu_idle0, idle_started = proc_cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.settle)
        idle_cpu_pct = 100.0 * (proc_cpu_seconds(server.pid) - cpu_idle0) / (time.monotonic() - idle_started)
        after = proc_status(server.pid)
        connected = result["connect"]["connected"]
        result["connect"]["idle_server_cpu_pct"] = round(idle_cpu_pct, 1)
        result["server_after_connect"] = after
        result["memory"] = {
            "rss_before_kb": before["VmRSS"],
            "rss_after_kb": after["VmRSS"],
            "rss_hwm_kb": after["VmHWM"],
            "per_connection_kb": round((after["VmRSS"] - before["VmRSS"]) / connected, 1) if connected else None,
        }
        result["threads"] = {
            "before": before["Threads"],
            "after_connect": after["Threads"],
            "per_connection": round((after["Threads"] - before["Threads"]) / connected, 2) if connected else None,
        }

        # Call phase: M broadcasts, one at a time (once nothing but this benchmark keeps the CPUs busy).
        if args.quiet_wait > 0:
            result["machine_before_calls"] = wait_for_quiet_machine(
                args.quiet_below, args.quiet_wait, (server.pid, os.getpid(), *(p.pid for p in procs)))
        calls = []
        latencies: list[float] = []
        missed = 0
        cpu1 = proc_cpu_seconds(server.pid)
        load_cpu0 = sum(proc_cpu_seconds(p.pid) for p in procs) + proc_cpu_seconds(os.getpid())
        busy0, total0 = machine_cpu_ticks()
        fields0 = machine_cpu_fields()
        calls_started = time.monotonic()
        for _ in range(args.calls):
            number, sent, answered = one_call()
            answers = ask_all(conns, ("collect", number, args.event_timeout), "collected", args.event_timeout + 30)
            stamps = [t for a in answers for t in a["stamps"]]
            expected = sum(a["expected"] for a in answers)
            delays = [t - sent for t in stamps]
            latencies.extend(delays)
            missed += max(0, expected - len(stamps))
            calls.append({
                "number": number,
                "http_ms": ms(answered - sent),
                "expected": expected,
                "received": len(stamps),
                "first_ms": ms(min(delays) if delays else None),
                "p50_ms": ms(percentile(delays, 50)),
                "all_ms": ms(max(delays) if delays else None),
            })
            finish_call()
        busy1, total1 = machine_cpu_ticks()
        fields1 = machine_cpu_fields()
        tick = os.sysconf("SC_CLK_TCK")
        breakdown = {name: round((b - a) / tick, 2) for name, a, b in
                     zip(("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"), fields0, fields1,
                         strict=False)}
        calls_wall = time.monotonic() - calls_started
        load_cpu = sum(proc_cpu_seconds(p.pid) for p in procs) + proc_cpu_seconds(os.getpid()) - load_cpu0
        server_calls_cpu = proc_cpu_seconds(server.pid) - cpu1
        machine_busy_s = (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
        all_received = [c["all_ms"] for c in calls if c["all_ms"] is not None and c["received"] >= c["expected"]]
        result["calls"] = {
            "count": len(calls),
            "latency_p50_ms": ms(percentile(latencies, 50)),
            "latency_p99_ms": ms(percentile(latencies, 99)),
            "latency_max_ms": ms(max(latencies) if latencies else None),
            "all_received_p50_ms": percentile(all_received, 50),
            "all_received_max_ms": max(all_received) if all_received else None,
            "first_received_p50_ms": percentile([c["first_ms"] for c in calls if c["first_ms"] is not None], 50),
            "http_call_next_p50_ms": percentile([c["http_ms"] for c in calls], 50),
            "deliveries": len(latencies),
            "missed_deliveries": missed,
            "incomplete_broadcasts": sum(1 for c in calls if c["received"] < c["expected"]),
            "wall_s": round(calls_wall, 2),
            "server_cpu_s": round(server_calls_cpu, 2),
            "load_processes_cpu_s": round(load_cpu, 2),
            # CPU the rest of the machine used meanwhile: noise from anything else running here
            "other_processes_cpu_s": round(max(0.0, machine_busy_s - server_calls_cpu - load_cpu), 2),
            "machine_cpu_s": breakdown,
            "machine_cpu_busy_pct": round(100.0 * (busy1 - busy0) / max(1, total1 - total0), 1),
            "per_call": calls,
        }

        # Hold: do the connections survive a few ping intervals with nothing happening?
        cpu_hold0, hold_started = proc_cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.hold)
        hold_cpu_pct = 100.0 * (proc_cpu_seconds(server.pid) - cpu_hold0) / max(1e-9, time.monotonic() - hold_started)
        status = ask_all(conns, ("status",), "status", 30)
        disconnects: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        events: Counter[str] = Counter()
        for s in status:
            disconnects.update(s["disconnects"])
            errors.update(s["errors"])
            events.update(s["other_events"])
        end = proc_status(server.pid) if server.alive() else {}
        result["end"] = {
            "still_connected": sum(s["connected"] for s in status),
            "disconnects": dict(disconnects),
            "client_errors": dict(errors),
            "other_events_received": dict(events),
            "hold_s": args.hold,
            "hold_server_cpu_pct": round(hold_cpu_pct, 1),
            "server_rss_kb": end.get("VmRSS"),
            "server_threads": end.get("Threads"),
            "server_alive": server.alive(),
        }
        tracebacks_before_stop = server.stderr(10_000_000).count("Traceback (most recent call last)")
        stop_started = time.time()
        try:
            stopped = ask_all(conns, ("stop",), "stopped", 60)
            result["end"]["disconnect_timeouts"] = sum(s["timeouts"] for s in stopped)
        except RuntimeError as exc:
            result["end"]["stop_error"] = str(exc)
        result["end"]["stop_s"] = round(time.time() - stop_started, 2)
        result["ok"] = True
    except Exception as exc:  # noqa: BLE001 - recorded, then the next mode runs
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        # The server's whole process group first, then the load processes: closing their pipes makes
        # them exit; any still alive after a few seconds is killed.
        server_alive = server.alive()
        server.kill()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        deadline = time.monotonic() + 5
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        stderr = server.stderr(10_000_000)
        tracebacks = stderr.count("Traceback (most recent call last)")
        result["server_stderr"] = {
            "tracebacks": tracebacks,
            "tracebacks_before_stop": tracebacks if tracebacks_before_stop is None else tracebacks_before_stop,
            "bad_request_lines": stderr.count("Bad request"),
            "error_lines": sum(1 for line in stderr.splitlines() if "error" in line.lower()),
            "tail": stderr[-3000:] if not result["ok"] else "",
            "first_traceback": stderr[max(0, stderr.find("Traceback") - 200):][:3000] if tracebacks else "",
        }
        result.setdefault("end", {})["server_alive_at_teardown"] = server_alive
        if not args.keep_temp:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
        else:
            result["workdir"] = str(workdir)
    return result


# --- report --------------------------------------------------------------------------------------

def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    def get(r: dict[str, Any], *path: str) -> Any:
        value: Any = r
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return "—"
            value = value[key]
        return "—" if value is None else value

    def joined(r: dict[str, Any]) -> str:
        connected, failed = get(r, "connect", "connected"), get(r, "connect", "failed")
        return f"{connected}/{r['clients_requested']}" + (f" ({failed} failed)" if failed not in (0, "—") else "")

    def troubles(r: dict[str, Any]) -> str:
        parts = []
        if r.get("error"):
            parts.append(r["error"].splitlines()[0][:120])
        d = get(r, "end", "disconnects")
        if isinstance(d, dict) and d:
            parts.append("disconnects " + ", ".join(f"{k}: {v}" for k, v in d.items()))
        e = get(r, "end", "client_errors")
        if isinstance(e, dict) and e:
            parts.append(f"{sum(e.values())} client errors")
        m = get(r, "calls", "missed_deliveries")
        if m not in (0, "—"):
            parts.append(f"{m} missed deliveries")
        other, wall = get(r, "calls", "other_processes_cpu_s"), get(r, "calls", "wall_s")
        if isinstance(other, (int, float)) and isinstance(wall, (int, float)) and other > 0.1 * wall:
            parts.append(f"NOISY: other processes used {other} CPU-s during the {wall} s of calls")
        tb = get(r, "server_stderr", "tracebacks_before_stop")
        if tb not in (0, "—"):
            parts.append(f"{tb} server tracebacks")
        late = get(r, "server_stderr", "tracebacks")
        if isinstance(late, int) and isinstance(tb, int) and late > tb:
            parts.append(f"{late - tb} server tracebacks while clients disconnected")
        slow = get(r, "end", "disconnect_timeouts")
        if slow not in (0, "—"):
            parts.append(f"{slow} client disconnects took > 10 s")
        return "; ".join(parts) or "none"

    rows = [
        ("connected", joined),
        ("connect phase (s)", lambda r: get(r, "connect", "phase_s")),
        ("connect p50 / p99 per client (ms)",
         lambda r: f"{get(r, 'connect', 'per_client_p50_ms')} / {get(r, 'connect', 'per_client_p99_ms')}"),
        ("server RSS before → after connect (MB)",
         lambda r: (f"{get(r, 'memory', 'rss_before_kb') / 1024:.1f} → {get(r, 'memory', 'rss_after_kb') / 1024:.1f}"
                    if isinstance(get(r, "memory", "rss_after_kb"), int) else "—")),
        ("memory per connection (kB)", lambda r: get(r, "memory", "per_connection_kb")),
        ("server threads before → after",
         lambda r: f"{get(r, 'threads', 'before')} → {get(r, 'threads', 'after_connect')}"),
        ("delivery latency p50 (ms)", lambda r: get(r, "calls", "latency_p50_ms")),
        ("delivery latency p99 (ms)", lambda r: get(r, "calls", "latency_p99_ms")),
        ("delivery latency max (ms)", lambda r: get(r, "calls", "latency_max_ms")),
        ("all clients received, p50 per broadcast (ms)", lambda r: get(r, "calls", "all_received_p50_ms")),
        ("all clients received, max (ms)", lambda r: get(r, "calls", "all_received_max_ms")),
        ("call-next HTTP response p50 (ms)", lambda r: get(r, "calls", "http_call_next_p50_ms")),
        ("server CPU: connect / calls (s)",
         lambda r: f"{get(r, 'connect', 'server_cpu_s')} / {get(r, 'calls', 'server_cpu_s')}"),
        ("calls phase: wall / load procs CPU / other procs CPU (s)",
         lambda r: f"{get(r, 'calls', 'wall_s')} / {get(r, 'calls', 'load_processes_cpu_s')} / "
                   f"{get(r, 'calls', 'other_processes_cpu_s')}"),
        ("server CPU while idle with N clients (% of a core)",
         lambda r: f"{get(r, 'connect', 'idle_server_cpu_pct')} (after connect), "
                   f"{get(r, 'end', 'hold_server_cpu_pct')} (hold)"),
        ("still connected at end", lambda r: get(r, "end", "still_connected")),
        ("others' CPU before start / before calls (% of machine)",
         lambda r: f"{get(r, 'machine_before', 'busy_pct')} / {get(r, 'machine_before_calls', 'busy_pct')}"),
        ("errors / disconnects", troubles),
    ]
    lines = [f"| | {' | '.join(r['mode'] for r in results)} |", "|---|" + "---|" * len(results)]
    for label, fn in rows:
        lines.append(f"| {label} | {' | '.join(str(fn(r)) for r in results)} |")
    m = meta["machine"]
    pk = m["packages"]
    lines += [
        "",
        f"N={meta['args']['clients']} clients from {meta['args']['procs']} load processes, "
        f"M={meta['args']['calls']} calls. Machine: {m['nproc']} CPUs ({m['cpu_model']}), "
        f"{m['mem_total_mb']} MB, Linux {m['kernel']}, Python {m['python']}; "
        f"flask-socketio {pk['flask-socketio']}, python-socketio {pk['python-socketio']}, "
        f"python-engineio {pk['python-engineio']}, gevent {pk['gevent']}, simple-websocket {pk['simple-websocket']}, "
        f"gevent-websocket {pk['gevent-websocket'] or 'not installed'}; RLIMIT_NOFILE {m['rlimit_nofile']}.",
        f"Command: `{meta['command']}`",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="display connections per mode (default 1000)")
    parser.add_argument("--calls", type=int, default=20, help="broadcasts measured per mode (default 20)")
    parser.add_argument("--procs", type=int, default=4, help="load processes (default 4)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated (default gevent,threading)")
    parser.add_argument("--json", type=Path, default=None, help="write the full results here")
    parser.add_argument("--connect-concurrency", type=int, default=25,
                        help="connects in flight per load process (default 25)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="per-connection timeout, s")
    parser.add_argument("--connect-phase-timeout", type=float, default=600.0, help="whole connect phase, s")
    parser.add_argument("--event-timeout", type=float, default=15.0, help="wait for one broadcast to arrive, s")
    parser.add_argument("--interval", type=float, default=0.3, help="pause between issuing and calling, s")
    parser.add_argument("--settle", type=float, default=3.0, help="pause before reading memory, s")
    parser.add_argument("--hold", type=float, default=25.0,
                        help="idle time after the calls before counting survivors, s (server pings every 10 s)")
    parser.add_argument("--quiet-below", type=float, default=20.0,
                        help="before each mode and before its calls, wait until other processes keep the machine "
                             "less than this %% busy (default 20)")
    parser.add_argument("--quiet-wait", type=float, default=300.0,
                        help="longest wait for a quiet machine, s; 0 = do not wait (default 300)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary directories (logs, db)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            parser.error(f"unknown mode {m!r}")

    raise_nofile_limit()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    command = shlex.join([os.path.relpath(sys.executable, Path.cwd()) if sys.executable.startswith(str(Path.cwd()))
                          else sys.executable, *sys.argv])
    meta = {"command": command, "cwd": str(Path.cwd()), "args": {k: (str(v) if isinstance(v, Path) else v)
                                                                for k, v in vars(args).items()},
            "machine": machine_info(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    results = []
    for mode in modes:
        quiet = wait_for_quiet_machine(args.quiet_below, args.quiet_wait) if args.quiet_wait > 0 else None
        print(f"[{mode}] running {args.clients} clients, {args.calls} calls"
              + (f" (machine {quiet['busy_pct']}% busy before)" if quiet else "") + " ...", file=sys.stderr, flush=True)
        result = run_mode(mode, args)
        result["machine_before"] = quiet
        print(f"[{mode}] {'ok' if result['ok'] else 'FAILED: ' + result.get('error', '')}", file=sys.stderr, flush=True)
        results.append(result)
    report = {"meta": meta, "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(results, meta))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
