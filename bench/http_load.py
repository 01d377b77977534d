"""Ticket issue and call-next over HTTP against the real server, beside their ceilings.

    .venv/bin/python bench/http_load.py [--seconds 8] [--clients 1,16] [--json FILE]

One ``python -m server serve`` process as deployed (gevent, SQLite in WAL with synchronous=FULL)
on the test branch with 16 counters serving A added (one per teller); load from separate processes
(keep-alive HTTP/1.1, one connection per client). For 1 and 16 concurrent clients it measures, each for ``--seconds``:

- ``health``: ``GET /api/v1/health``, the cheapest JSON endpoint (one trivial query): the framework ceiling;
- ``issue``: ``POST /api/v1/tickets`` from a kiosk (each client its own kiosk);
- ``call_next``: each client a teller at its own counter pressing call-next, then no-show to free the
  counter again (only the call-next requests are timed and counted).

And, in the same run, the storage ceiling: bare SQLite commits of one small row with the same
durability settings (WAL, synchronous=FULL, BEGIN IMMEDIATE), from 1 and from 16 threads.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTERS = 16


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the storage ceiling -------------------------------------------------------------------------------


def sqlite_ceiling(threads: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="callwise-bench-") as folder:
        path = Path(folder) / "ceiling.db"
        setup = sqlite3.connect(path, isolation_level=None)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        setup.close()
        latencies: list[list[float]] = [[] for _ in range(threads)]
        deadline = time.perf_counter() + seconds

        def writer(index: int) -> None:
            db = sqlite3.connect(path, isolation_level=None, timeout=15, check_same_thread=False)
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=15000")
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO t (v) VALUES (?)", ("A001",))
                db.execute("COMMIT")
                latencies[index].append(time.perf_counter() - started)
            db.close()

        began = time.perf_counter()
        workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    return {"clients": threads, "per_s": round(len(flat) / elapsed, 1), "p50_ms": round(quantile(flat, 0.5) * 1000, 2),
            "p99_ms": round(quantile(flat, 0.99) * 1000, 2), "count": len(flat)}


# --- HTTP load -------------------------------------------------------------------------------------------


def _client(args: tuple[str, int, str, int, float, str]) -> dict[str, Any]:
    """One client: ``kind`` requests in a loop until the deadline (a wall-clock time, shared)."""
    kind, port, token, counter, deadline, _ = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timed: list[float] = []
    errors: dict[str, int] = {}
    while time.time() < deadline:
        if kind == "health":
            method, path, body = "GET", "/api/v1/health", None
        elif kind == "issue":
            method, path, body = "POST", "/api/v1/tickets", json.dumps({"service": "A"})
        else:
            method, path, body = "POST", f"/api/v1/counters/{counter}/call-next", None
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        took = time.perf_counter() - started
        if response.status in (200, 201):
            timed.append(took)
        else:
            errors[str(response.status)] = errors.get(str(response.status), 0) + 1
        if kind == "call_next" and response.status == 200:
            connection.request("POST", f"/api/v1/counters/{counter}/no-show", headers=headers)
            connection.getresponse().read()
    connection.close()
    return {"timed": timed, "errors": errors}


def http_load(pool: ProcessPoolExecutor, kind: str, port: int, tokens: list[tuple[str, int]], clients: int,
              seconds: float) -> dict[str, Any]:
    start = time.time() + 0.5  # everybody starts together
    deadline = start + seconds
    while time.time() < start:
        time.sleep(0.01)
    results = list(pool.map(_client, [(kind, port, tokens[i][0], tokens[i][1], deadline, "") for i in range(clients)]))
    timed = [x for r in results for x in r["timed"]]
    errors: dict[str, int] = {}
    for r in results:
        for status, n in r["errors"].items():
            errors[status] = errors.get(status, 0) + n
    return {"kind": kind, "clients": clients, "per_s": round(len(timed) / seconds, 1),
            "p50_ms": round(quantile(timed, 0.5) * 1000, 2), "p99_ms": round(quantile(timed, 0.99) * 1000, 2),
            "count": len(timed), "errors": errors}


FIRST_COUNTER = 5  # the test branch has counters 1..4, not all of them serving A


def bench_config(server: Any) -> None:
    """The test branch with counters 5..20 added, all serving A: one per teller, each with a queue."""
    extra = "".join(f'\n[[counters]]\nnumber = {n}\nservices = ["A"]\n'
                    for n in range(FIRST_COUNTER, FIRST_COUNTER + COUNTERS))
    # The tellers free their counter with a no-show at once: load, not customers (no 60 s grace).
    extra += "\n[queue]\nno_show_grace_s = 0\n"
    server.config_path.write_text(server.config_path.read_text(encoding="utf-8") + extra, encoding="utf-8")


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    from tests.support.callwise import CallwiseServer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    most = max(levels)
    results: dict[str, Any] = {"command": " ".join(["bench/http_load.py", *sys.argv[1:]]), "machine": machine(),
                               "sqlite": [], "http": []}
    for n in levels:
        results["sqlite"].append(sqlite_ceiling(n, args.seconds))
        print(json.dumps(results["sqlite"][-1]), flush=True)
    with tempfile.TemporaryDirectory(prefix="callwise-bench-") as folder:
        server = CallwiseServer(Path(folder))
        bench_config(server)
        staff = {f"bench{n}": "teller" for n in range(1, most + 1)}
        devices = {f"bench-kiosk{n}": "kiosk" for n in range(1, most + 1)}
        server.create_accounts(staff, devices)
        server.start()
        try:
            for username in staff:
                server.tokens[username] = server.login(username)
            kiosks = [(server.tokens[f"bench-kiosk{n}"], 0) for n in range(1, most + 1)]
            tellers = [(server.tokens[f"bench{n}"], FIRST_COUNTER + n - 1) for n in range(1, most + 1)]
            for n, (_token, counter) in enumerate(tellers, 1):
                server.post(f"/counters/{counter}/open", who=f"bench{n}")
            with ProcessPoolExecutor(max_workers=most) as pool:
                pool.map(abs, range(most))  # start the workers before the clock runs
                for kind, tokens in (("health", kiosks), ("issue", kiosks), ("call_next", tellers)):
                    for n in levels:
                        results["http"].append(http_load(pool, kind, server.port, tokens, n, args.seconds))
                        print(json.dumps(results["http"][-1]), flush=True)
        finally:
            server.kill()
    by = {(r["kind"], r["clients"]): r for r in results["http"]}
    ceiling = {r["clients"]: r for r in results["sqlite"]}
    results["ratios"] = {
        f"{kind}_{n}": {"vs_health": round(by[(kind, n)]["per_s"] / by[("health", n)]["per_s"], 3)
                        if by[("health", n)]["per_s"] else None,
                        "vs_sqlite": round(by[(kind, n)]["per_s"] / ceiling[n]["per_s"], 3)
                        if ceiling[n]["per_s"] else None}
        for kind in ("issue", "call_next") for n in levels
    }
    print(json.dumps(results["ratios"], indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
