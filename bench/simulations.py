"""The simulator's comparisons over many seeds: what alerts, the manager and the call order buy.

    .venv/bin/python bench/simulations.py [--seeds 20] [--jobs 2] [--json FILE] [--plot DIR]

For every seed, the same simulated day (customers, tellers, pauses: same seed, same world) is run
three ways on the busy eight-counter branch (server/simulator/busy_branch.toml):

- ``product``: alerts with the lobby manager reacting to them, call order ``at_risk_first``;
- ``no_manager``: the same alerts, nobody reacting, ``at_risk_first``;
- ``fifo``: nobody reacting, call order ``fifo`` (the counter's own service order, oldest first).

Reported: incidents with vs without the manager, short-queue incidents and mean wait under each
call order (both without a manager, so only the order differs), estimated-wait error beside the
naive estimate, and recall / lead time / false alerts of the alerts (false alerts from the runs
without a manager, where an alert followed by no incident really was one no incident followed).
Days run in ``--jobs`` processes; each reports its own run time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {
    "product": {"policy": "at_risk_first", "manager": True},
    "no_manager": {"policy": "at_risk_first", "manager": False},
    "fifo": {"policy": "fifo", "manager": False},
}


def one_day(args: tuple[int, str, float | None, Path | None]) -> dict[str, Any]:
    """One simulated day; with ``plot``, its charts are written there too."""
    from server.simulator.run import simulate

    seed, variant, tick_s, plot_dir = args
    result = simulate(seed=seed, tick_s=tick_s, **VARIANTS[variant])
    if plot_dir is not None:
        from server.simulator.report import plot

        plot(result, plot_dir)
    return {"variant": variant, **result.summary}


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 4) if known else None


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 1) if known else None


def compare(days: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {v: sorted((d for d in days if d["variant"] == v), key=lambda d: d["seed"])
                                           for v in VARIANTS}
    totals = {v: sum(d["incidents"]["total"] for d in by[v]) for v in VARIANTS}
    kinds = ("short_queue", "idle_counter", "paused_ratio", "service_overrun")
    per_kind = {v: {k: sum(d["incidents"][k] for d in by[v]) for k in kinds} for v in VARIANTS}
    sq = {v: per_kind[v]["short_queue"] for v in VARIANTS}
    mean_wait = {v: _mean([d["wait_s"]["mean"] for d in by[v]]) for v in VARIANTS}
    # Recall and lead pooled over every incident of the runs without a manager (what the alerts
    # foresaw when nobody intervened) and of the product runs.
    def pooled(variant: str, kind: str) -> dict[str, Any]:
        warned = sum(round((d["recall"][kind] or 0) * d["incidents"][kind]) for d in by[variant])
        n = per_kind[variant][kind]
        return {"incidents": n, "warned": warned, "recall": round(warned / n, 4) if n else None,
                "median_of_daily_median_lead_s": _median([d["median_lead_s"][kind] for d in by[variant]])}

    eta = {v: {"eta_mae_s": _mean([d["eta_mae_s"] for d in by[v]]), "naive_mae_s": _mean([d["eta_naive_mae_s"] for d in by[v]])}  # noqa: E501
           for v in VARIANTS}
    return {
        "seeds": len(by["product"]),
        "days": len(days),
        "tickets_per_day": _mean([d["tickets"] for d in by["product"]]),
        "incidents": {"total": totals, "per_kind": per_kind,
                      "reduction_with_manager": round(1 - totals["product"] / totals["no_manager"], 4)
                      if totals["no_manager"] else None},
        "call_order": {"short_queue_incidents": {"at_risk_first": sq["no_manager"], "fifo": sq["fifo"]},
                       "short_queue_cut": round(1 - sq["no_manager"] / sq["fifo"], 4) if sq["fifo"] else None,
                       "mean_wait_s": {"at_risk_first": mean_wait["no_manager"], "fifo": mean_wait["fifo"]},
                       "mean_wait_change": round(mean_wait["no_manager"] / mean_wait["fifo"] - 1, 4)
                       if mean_wait["fifo"] else None},
        "recall": {v: {k: pooled(v, k) for k in kinds} for v in ("no_manager", "product")},
        "false_alert_share": {v: _mean([d["false_alert_share"] for d in by[v]]) for v in VARIANTS},
        "eta": {**eta, "improvement_over_naive": round(1 - eta["product"]["eta_mae_s"] / eta["product"]["naive_mae_s"], 4)  # noqa: E501
                if eta["product"]["naive_mae_s"] else None},
        "mean_wait_s": mean_wait,
        "run_s": {"median": _median([d["run_s"] for d in days]), "max": max(d["run_s"] for d in days)},
        "alerts_per_day": {v: {rule: round(sum(d["alerts"].get(rule, 0) for d in by[v]) / len(by[v]), 1)
                               for rule in sorted({r for d in by[v] for r in d["alerts"]})} for v in VARIANTS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tick", type=float, default=None, help="seconds between sweeps (default: the simulator's)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="also chart one product day and its no-manager twin")
    args = parser.parse_args()
    started = time.perf_counter()
    # The charts: the first seed's product day and its no-manager twin, drawn by the process that ran them.
    charted = {(args.first_seed, "product"), (args.first_seed, "no_manager")} if args.plot else set()
    work = [(seed, variant, args.tick, args.plot if (seed, variant) in charted else None)
            for seed in range(args.first_seed, args.first_seed + args.seeds) for variant in VARIANTS]
    days: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for n, day in enumerate(pool.map(one_day, work), 1):
            days.append(day)
            print(f"\r{n}/{len(work)} days", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    result = {"command": " ".join(["bench/simulations.py", *sys.argv[1:]]), "comparison": compare(days),
              "wall_s": round(time.perf_counter() - started, 1), "days": days}
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(json.dumps(result["comparison"], indent=2))


if __name__ == "__main__":
    main()
