"""bench/scaleout.py's own pieces, without servers: the config it generates is one the server takes,
the clients share the branches out fairly, and BENCHMARKS.md's section computes its verdicts from
the figures. (The benchmark itself runs in ``make bench``: minutes, PostgreSQL and Redis.)"""

from __future__ import annotations

import copy
import tomllib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bench import report, scaleout
from server.config import config_from_dict


def test_the_generated_config_is_a_valid_production_config_of_many_branches():
    text = scaleout.scaleout_config("postgresql+psycopg://u@127.0.0.1:5432/callwise", "redis://127.0.0.1:6379/0",
                                    branches=5, zone="Etc/GMT-8")
    config = config_from_dict(tomllib.loads(text))
    assert config.server.mode == "production"
    assert config.server.message_queue == config.server.rate_limit_storage == "redis://127.0.0.1:6379/0"
    assert [spec.code for spec in config.branches] == ["b001", "b002", "b003", "b004", "b005"]
    assert all(spec.branch.timezone == "Etc/GMT-8" for spec in config.branches)
    assert all(len(spec.services) == 2 and len(spec.counters) == 3 for spec in config.branches)
    assert config.clock.mode == "system"


@pytest.mark.parametrize("hour", [0, 3, 11, 12, 13, 22, 23])
@pytest.mark.parametrize("minute", [0, 29, 30, 59])
def test_the_branches_zone_puts_their_local_time_within_half_an_hour_of_noon(hour, minute):
    now = datetime(2026, 11, 30, hour, minute, tzinfo=timezone.utc)
    local = now.astimezone(ZoneInfo(scaleout.midday_zone(now)))
    noon = local.replace(hour=12, minute=0)
    assert abs(local - noon) <= timedelta(minutes=30)


def test_every_kiosk_service_and_every_teller_goes_to_exactly_one_client():
    tokens = {scaleout.branch_code(b): {"kiosk": [f"k{b}"], "teller": [f"t{b}.{c}" for c in (1, 2, 3)]}
              for b in range(1, 11)}
    kiosks = scaleout.kiosk_jobs(tokens, 4)
    tellers = scaleout.teller_jobs(tokens, 4)
    assert len(kiosks) == len(tellers) == 4
    assert sorted(job for jobs in kiosks for job in jobs) == sorted((f"k{b}", s) for b in range(1, 11) for s in "AB")
    assert sorted(job for jobs in tellers for job in jobs) == sorted(
        (f"t{b}.{c}", str(c)) for b in range(1, 11) for c in (1, 2, 3))
    assert {len(jobs) for jobs in tellers} <= {7, 8}
    # A client's consecutive requests are for different branches.
    assert all(a[0] != b[0] for jobs in kiosks for a, b in zip(jobs, jobs[1:], strict=False))


def test_activity_samples_give_the_share_of_active_sessions_waiting_on_locks():
    samples = [{"sessions": 16, "active": 12, "idle_in_transaction": 0, "lock": 9,
                "events": ["Lock:transactionid"] * 9 + ["CPU"] * 3},
               {"sessions": 16, "active": 4, "idle_in_transaction": 1, "lock": 1,
                "events": ["Lock:transactionid", "IO:WALSync", "CPU", "CPU"]}]
    summary = scaleout.summarize_activity(samples)
    assert summary["lock_share"] == pytest.approx(10 / 16, abs=0.001)
    assert summary["active_mean"] == 8 and summary["lock_mean"] == 5
    assert summary["wait_events"]["Lock:transactionid"] == 5


def canned() -> dict:
    def figure(per_s: float) -> dict:
        return {"per_s": per_s, "p50_ms": 10.0, "p99_ms": 40.0, "machine_cpu_pct": 95.0, "serve_cpu_pct": 90.0,
                "postgres_cpu_pct": 30.0, "clients_cpu_pct": 20.0, "other_cpu_pct": 5.0, "lock_share": 0.0,
                "active_mean": 1.0}

    return {
        "command": "bench/scaleout.py --json x", "wall_s": 170.0, "git": {"commit": "0123456789abcdef"},
        "machine": {"cores": 2, "cpu": "AMD EPYC"},
        "postgres": {"server_version": "15.18", "fsync": "on", "synchronous_commit": "on"},
        "settings": {"branches": 200, "services_per_branch": 2, "counters_per_branch": 3, "kiosks": 215,
                     "tellers": 600, "clients": 16, "seconds": 6, "rounds": 3, "hot_clients": 16},
        "commits": [{"connections": 1, "per_s": 800, "p50_ms": 0.3, "p99_ms": 7},
                    {"connections": 16, "per_s": 5000, "p50_ms": 2, "p99_ms": 15}],
        "summary": {"1": {"health": figure(1000), "issue": figure(100), "call_next": figure(50)},
                    "2": {"health": figure(1800), "issue": figure(170), "call_next": figure(60)}},
        "hot_spot": {"per_s": 60, "p50_ms": 100, "p99_ms": 900,
                     "cpu": {"serve_pct": [30, 30], "postgres_pct": 20, "clients_pct": 3, "other_pct": 1,
                             "machine_pct": 50},
                     "postgres": {"samples": 100, "active_mean": 12.0, "active_median": 12, "lock_mean": 2.0,
                                  "lock_median": 2, "lock_share": 0.167, "wait_events": {"Lock:transactionid": 2}}},
        "verdict": "2 processes / 1: ...",
    }


def test_the_report_computes_each_target_from_the_figures():
    verdicts = {target: ok for target, _, ok in report.scaleout_targets(canned())}
    assert verdicts == {
        "ticket issue: 2 processes ≥ 1.6× the throughput of 1 process": True,  # 1.7×
        "ticket issue: ratio to the cheapest endpoint no worse than with 1 process": False,  # 0.100 → 0.094
        "call-next: 2 processes ≥ 1.6× the throughput of 1 process": False,  # 1.2×
        "call-next: ratio to the cheapest endpoint no worse than with 1 process": False,
        "hot spot: ≤ 1/4 of sessions waiting on locks": True,  # 17%
    }
    worse = copy.deepcopy(canned())
    worse["hot_spot"]["postgres"]["lock_share"] = 0.9
    worse["hot_spot"]["postgres"]["lock_mean"] = 11.0
    assert dict((t, ok) for t, _, ok in report.scaleout_targets(worse))[
        "hot spot: ≤ 1/4 of sessions waiting on locks"] is False


def test_the_report_section_shows_the_targets_with_their_verdicts_and_what_limits_the_misses():
    text = "\n".join(report.scaleout_section(canned()))
    assert "## Scale-out (issue 17)" in text
    assert "| ticket issue: 2 processes ≥ 1.6× the throughput of 1 process | 1.70× (100 → 170/s) | met |" in text
    assert "| call-next: 2 processes ≥ 1.6× the throughput of 1 process | 1.20× (50 → 60/s) | **missed** |" in text
    assert "**What limits the misses**" in text
    assert "| 1 | 800 | 0.3 | 7 |" in text  # the storage's own commit rate beside the figures
