"""bench/realtime.py at toy sizes: every section runs against real servers and reports real figures.

One run of the script as a subprocess (3 branches, 2 calls/s for 3 s; a room of 20; up to 60
clients in steps of 30), then each section's JSON is checked for what the full-size run relies on.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")  # the load processes' asyncio client (pip install -e '.[bench]')

pytestmark = pytest.mark.server

REPO = Path(__file__).resolve().parent.parent
SIZES = ["--branches", "3", "--calls-per-s", "2", "--seconds", "3", "--room-clients", "20", "--room-calls", "3",
         "--max-clients", "60", "--step", "30", "--procs", "2", "--probe-seconds", "1"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("bench") / "realtime.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "realtime.py"), *SIZES, "--json", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(path.read_text(encoding="utf-8"))


def positive_and_finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in values)


def test_meta_names_the_command_machine_and_commit(report: dict[str, Any]) -> None:
    meta = report["meta"]
    assert "bench/realtime.py" in meta["command"] and "--branches 3" in meta["command"]
    assert meta["machine"]["nproc"] >= 1 and meta["machine"]["packages"]["flask-socketio"]
    assert len(meta["git"]["commit"]) == 40


def test_every_call_reaches_its_own_branch_display(report: dict[str, Any]) -> None:
    branches = report["branches"]
    assert branches["ok"], branches["error"]
    calls = branches["calls"]
    assert calls["sent"] == calls["answered"] == calls["count"] == 6
    assert calls["missed"] == 0 and calls["duplicates"] == 0 and calls["http_errors"] == {}
    assert calls["finish_errors"] == {}
    assert positive_and_finite(calls["latency_p50_ms"], calls["latency_p99_ms"], calls["latency_max_ms"])
    assert calls["latency_p50_ms"] <= calls["latency_p99_ms"] <= calls["latency_max_ms"] < 10_000


def test_branch_clients_are_authenticated_in_their_own_rooms(report: dict[str, Any]) -> None:
    branches = report["branches"]
    assert branches["connect"]["connected_by_role"] == {"display": 3, "manager": 3, "teller": 24}
    assert branches["connect"]["wrong_role_or_branch"] == {}
    # Staff hear every call of their branch, and the counters' changes, which displays never get.
    calls = branches["calls"]
    assert calls["staff_missed"] == 0 and calls["staff_deliveries"] == 6 * 9
    events = branches["events_received"]
    assert events["display"]["ticket_called"] == 6 and "counter_changed" not in events["display"]
    assert events["teller"]["counter_changed"] > 0 and events["manager"]["counter_changed"] > 0
    assert branches["end"]["still_connected"] == 30 and branches["end"]["disconnects"] == {}


def test_big_room_has_figures_for_callwise_and_the_bare_ceiling(report: dict[str, Any]) -> None:
    room = report["big_room"]
    assert room["ok"], room["error"]
    for side in ("callwise", "bare"):
        figures = room[side]
        assert figures["connect"]["connected"] == 20
        assert figures["broadcasts"] == 3 and figures["deliveries"] == 60 and figures["missed_deliveries"] == 0
        assert positive_and_finite(figures["all_received_p50_ms"], figures["all_received_p99_ms"])
    assert positive_and_finite(room["ratio_p50"], room["ratio_p99"])


def test_connections_reach_the_cap(report: dict[str, Any]) -> None:
    connections = report["connections"]
    assert connections["ok"], connections["error"]
    assert connections["stopped_by"] == "cap" and connections["failure"] is None
    assert connections["max_held"] == 60
    assert [s["clients"] for s in connections["steps"]] == [30, 60]
    assert all(s["still_connected"] == s["broadcast_received"] == s["clients"] for s in connections["steps"])
    assert positive_and_finite(connections["kb_per_client"], connections["connect_per_s"])
