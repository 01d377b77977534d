"""The simulator's comparisons over many seeds: what alerts, the manager and the call order buy.

    .venv/bin/python bench/simulations.py [--seeds 20] [--first-seed 1] [--held-out 301-315]
        [--loads busy,lighter] [--variants ...] [--jobs 2] [--json FILE] [--plot DIR]

For every seed, the same simulated day (customers, tellers, pauses: same seed, same world) is run
under each variant on the busy eight-counter branch (server/simulator/busy_branch.toml):

- ``product``: alerts, the lobby manager (one person: server/simulator/manager.py) acting on them,
  answering help requests and walking the hall; call order ``at_risk_first``;
- ``manager_without_alerts``: the same person answering help requests (a phone call) and walking
  the hall every few minutes, acting only on what the hall shows; ``at_risk_first``;
- ``no_manager``: nobody, ``at_risk_first``;
- ``fifo``: nobody, call order ``fifo``;
- ``slow_manager``: the product with a manager half as attentive and twice as slow.

Two loads: ``busy`` (600 customers expected) and ``lighter`` (20% fewer, 480). The tuning seeds
(``--first-seed``, ``--seeds``) run every variant; the held-out seeds (``--held-out``, never used to
choose anything) run the product, both baselines and the slow manager, for the headline claims.

Intervals are over seeds: a bootstrap (10,000 resamples of the seeds, with replacement, fixed
seed) of the relative change of the summed figure, percentile 95% interval. Days run in ``--jobs``
processes; each reports its own run time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS: dict[str, dict[str, Any]] = {
    "product": {"policy": "at_risk_first", "manager": "alerts"},
    "manager_without_alerts": {"policy": "at_risk_first", "manager": "walk"},
    "no_manager": {"policy": "at_risk_first", "manager": "none"},
    "fifo": {"policy": "fifo", "manager": "none"},
    "slow_manager": {"policy": "at_risk_first", "manager": "alerts", "slow": True},
}
HELD_OUT_VARIANTS = ("product", "manager_without_alerts", "no_manager", "slow_manager")
LOADS = {"busy": 600.0, "lighter": 480.0}
KINDS = ("short_queue", "idle_counter", "paused_ratio", "service_overrun")
RESAMPLES = 10_000


def one_day(args: tuple[int, str, str, float | None, Path | None]) -> dict[str, Any]:
    """One simulated day; with ``plot``, its charts are written there too."""
    from server.simulator.run import simulate
    from server.simulator.world import World

    seed, variant, load, tick_s, plot_dir = args
    options = dict(VARIANTS[variant])
    world = World(tickets=LOADS[load])
    if options.pop("slow", False):
        world.manager_react_chance /= 2
        world.manager_slowness *= 2
    result = simulate(seed=seed, tick_s=tick_s, world=world, **options)
    if plot_dir is not None:
        from server.simulator.report import plot

        plot(result, plot_dir / load)
    summary = dict(result.summary)
    return {"variant": variant, "load": load, **summary}


# --- statistics over seeds ---------------------------------------------------------------------------


def _mean(values: list[float | None], digits: int = 4) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), digits) if known else None


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 1) if known else None


def change_interval(ours: list[float], base: list[float], *, less_is_better: bool = True) -> dict[str, Any]:
    """The relative change of the sum of ``ours`` against the sum of ``base`` (paired by seed),
    with its bootstrap 95% interval over seeds. ``reduction`` = 1 - ours / base (for counts)."""
    assert len(ours) == len(base)
    if not base or sum(base) == 0:
        return {"n": len(base), "ours": sum(ours), "base": sum(base), "change": None, "low": None, "high": None}
    rng = random.Random(20261201)
    n = len(base)
    stats = []
    for _ in range(RESAMPLES):
        pick = [rng.randrange(n) for _ in range(n)]
        b = sum(base[i] for i in pick)
        if b:
            stats.append(sum(ours[i] for i in pick) / b - 1)
    stats.sort()
    point = sum(ours) / sum(base) - 1
    low, high = stats[int(0.025 * len(stats))], stats[int(0.975 * len(stats)) - 1]
    return {"n": n, "ours": round(sum(ours), 1), "base": round(sum(base), 1), "change": round(point, 4),
            "low": round(low, 4), "high": round(high, 4)}


def _paired(days: list[dict[str, Any]], a: str, b: str, field: Any) -> tuple[list[float], list[float]]:
    by = {(d["variant"], d["seed"]): d for d in days}
    seeds = sorted({d["seed"] for d in days if d["variant"] == a} & {d["seed"] for d in days if d["variant"] == b})
    return [field(by[(a, s)]) for s in seeds], [field(by[(b, s)]) for s in seeds]


def _variant_figures(days: list[dict[str, Any]]) -> dict[str, Any]:
    """What one variant did, over its days."""
    n = len(days)
    leads = [x for d in days for x in d["short_queue_complaint_leads_s"]]
    missed = [x for d in days for x in d.get("short_queue_complaints_missed", [])]
    sq_complaints = sum(d["short_queue_complaints"]["complaints"] for d in days)
    follow: dict[str, dict[str, int]] = {}
    for d in days:
        for rule, row in d["follow_up"].items():
            mine = follow.setdefault(rule, {"raised": 0, "followed": 0, "late": 0, "not_followed": 0,
                                            "forecast": row["forecast"]})
            for key in ("raised", "followed", "late", "not_followed"):
                mine[key] += row[key]
    forecasts = [row for row in follow.values() if row["forecast"]]
    raised = sum(row["raised"] for row in forecasts)
    minutes = [d["teller_minutes"] for d in days]
    reasons = sorted({r for m in minutes for r in m["paused_by_reason"]})
    work = [d["manager_workload"] for d in days if d.get("manager_workload")]
    return {
        "days": n,
        "tickets_per_day": _mean([d["tickets"] for d in days], 1),
        "incidents": {**{k: sum(d["incidents"][k] for d in days) for k in KINDS},
                      "total": sum(d["incidents"]["total"] for d in days)},
        "complaints": {k: sum(d["complaints"][k] for d in days) for k in ("total", "short_queue", "long_queue")},
        "wait_s": {"mean": _mean([d["wait_s"]["mean"] for d in days], 1),
                   "p90": _mean([d["wait_s"]["p90"] for d in days], 1)},
        "teller_minutes_per_day": {
            **{k: _mean([m.get(k, 0.0) for m in minutes], 1) for k in ("serving", "calling", "idle", "paused")},
            "paused_by_reason": {r: _mean([m["paused_by_reason"].get(r, 0.0) for m in minutes], 1) for r in reasons},
        },
        "alerts_shown": {
            "mean_per_hour": _mean([d["alerts_shown"]["mean_per_hour"] for d in days], 2),
            "peak_hour_mean": _mean([d["alerts_shown"]["peak_hour"] for d in days], 1),
            "peak_hour_max": max(d["alerts_shown"]["peak_hour"] for d in days),
            "per_day": {rule: round(sum(d["alerts"].get(rule, 0) for d in days) / n, 1)
                        for rule in sorted({r for d in days for r in d["alerts"]})},
        },
        "follow_up": dict(sorted(follow.items())),
        "followed_share": round(sum(r["followed"] for r in forecasts) / raised, 4) if raised else None,
        "late_share": round(sum(r["late"] for r in forecasts) / raised, 4) if raised else None,
        "short_queue_complaints": {
            "complaints": sq_complaints,
            "warned": len(leads),
            "recall": round(len(leads) / sq_complaints, 4) if sq_complaints else None,
            "median_lead_s": round(statistics.median(leads), 1) if leads else None,
            "missed": None if not any("short_queue_complaints_missed" in d for d in days) else {
                "no_card": sum(1 for _, card in missed if card is None),
                "late_card": sum(1 for _, card in missed if card is not None),
                "median_patience_s": _median([patience for patience, _ in missed]),
            },
        },
        "incident_recall": {k: _pooled_recall(days, k) for k in KINDS},
        "within_reach": {k: {f: sum(d["within_reach"][k][f] for d in days) for f in ("total", "within_reach")}
                         for k in ("short_queue_incidents", "complaints")} if all("within_reach" in d for d in days)
        else None,
        "eta": {"eta_mae_s": _mean([d["eta_mae_s"] for d in days], 1),
                "naive_mae_s": _mean([d["eta_naive_mae_s"] for d in days], 1)},
        # The branch's hours: per day, who came after the last-ticket time, who was still waiting at
        # closing, of those who had never been told they might not be served, and who was told.
        "hours": None if not all("refused_at_door" in d for d in days) else {
            k: {"total": sum(d.get(k, 0) for d in days), "per_day": _mean([d.get(k, 0) for d in days], 2)}
            for k in ("refused_at_door", "cancelled_at_closing", "cancelled_unwarned", "warned_while_waiting")},
        # Priority customers' mean wait beside everyone else's (means of the days' means), and how often
        # a day used the counter's tools.
        "counter_tools": None if not all("counter_tools" in d for d in days) else {
            "priority_wait_s": _mean([d["priority_wait_s"]["priority"] for d in days], 1),
            "others_wait_s": _mean([d["priority_wait_s"]["others"] for d in days], 1),
            "per_day": {k: _mean([d["counter_tools"][k] for d in days], 1)
                        for k in ("priority", "held", "called_back", "returned")},
        },
        "manager": None if not work else {
            "reactions_per_hour": _mean([w["reactions_per_hour"] for w in work], 2),
            "reactions_peak_10min_max": max(w["reactions_peak_10min"] for w in work),
            "reactions_peak_10min_mean": _mean([w["reactions_peak_10min"] for w in work], 1),
            "busy_share": _mean([w["busy_share"] for w in work], 4),
            "busy_min_per_day": {k: _mean([w["busy_s"][k] / 60 for w in work], 1) for k in ("cards", "help", "rounds")},
            "queue_wait_median_s": _median([w["queue_wait_median_s"] for w in work]),
            "cards_ignored_per_day": _mean([w["cards_ignored"] for w in work], 1),
            "cards_gone_per_day": _mean([w["cards_gone"] for w in work], 1),
            "steps_per_day": {k: round(sum(w["steps"].get(k, 0) for w in work) / len(work), 1)
                              for k in sorted({s for w in work for s in w["steps"]})},
            "answers_per_day": {k: round(sum(d["instruction_answers"].get(k, 0) for d in days) / n, 1)
                                for k in sorted({a for d in days for a in d["instruction_answers"]})},
        },
        "run_s_median": _median([d["run_s"] for d in days]),
    }


def _pooled_recall(days: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    n = sum(d["incidents"][kind] for d in days)
    warned = sum(round((d["recall"][kind] or 0) * d["incidents"][kind]) for d in days)
    return {"incidents": n, "warned": warned, "recall": round(warned / n, 4) if n else None,
            "median_of_daily_median_lead_s": _median([d["median_lead_s"][kind] for d in days])}


def compare(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Per seed set and load: each variant's figures, and the changes between them with intervals."""
    out: dict[str, Any] = {}
    for seeds in sorted({d["seeds"] for d in days}):
        for load in LOADS:
            mine = [d for d in days if d["seeds"] == seeds and d["load"] == load]
            if not mine:
                continue
            variants = [v for v in VARIANTS if any(d["variant"] == v for d in mine)]
            by = {v: sorted((d for d in mine if d["variant"] == v), key=lambda d: d["seed"]) for v in variants}
            figures = {v: _variant_figures(by[v]) for v in variants}

            def changes(field: Any, pairs: list[tuple[str, str]], mine: list[dict[str, Any]] = mine,
                        by: dict[str, Any] = by) -> dict[str, Any]:
                return {f"{a}_vs_{b}": change_interval(*_paired(mine, a, b, field))
                        for a, b in pairs if a in by and b in by}

            pairs = [("product", "no_manager"), ("product", "manager_without_alerts"),
                     ("manager_without_alerts", "no_manager"), ("slow_manager", "no_manager"),
                     ("slow_manager", "manager_without_alerts"), ("no_manager", "fifo")]
            out[f"{seeds}:{load}"] = {
                "seeds": seeds, "load": load, "seed_list": sorted({d["seed"] for d in mine}),
                "variants": figures,
                "changes": {
                    "incidents": changes(lambda d: d["incidents"]["total"], pairs),
                    "complaints": changes(lambda d: d["complaints"]["total"], pairs),
                    "short_queue_incidents": changes(lambda d: d["incidents"]["short_queue"], pairs),
                    "mean_wait": changes(lambda d: d["wait_s"]["mean"], pairs),
                    "p90_wait": changes(lambda d: d["wait_s"]["p90"], pairs),
                },
            }
    return out


def _dumps(result: dict[str, Any]) -> str:
    """The results as JSON: the comparison indented, each day on a line of its own."""
    head = json.dumps({k: v for k, v in result.items() if k != "days"}, indent=2, ensure_ascii=False)
    days = ",\n".join("    " + json.dumps(day, ensure_ascii=False) for day in result["days"])
    return head[:-2] + ',\n  "days": [\n' + days + "\n  ]\n}\n"


def _seed_range(text: str) -> list[int]:
    if not text:
        return []
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--held-out", default="301-315", help="seeds never tuned on, e.g. 301-315 ('' for none)")
    parser.add_argument("--loads", default=",".join(LOADS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tick", type=float, default=None, help="seconds between sweeps (default: the simulator's)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="also chart one product day and its baselines")
    parser.add_argument("--days-log", type=Path, default=None,
                        help="append each day here as it finishes (JSON lines) and skip days already there: "
                             "a long run stopped half-way goes on where it was")
    parser.add_argument("--from-days", type=Path, default=None,
                        help="no simulation: the comparison of the days in this log (see --days-log), to --json")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.from_days is not None:
        days = [json.loads(line) for line in args.from_days.read_text().splitlines() if line.strip()]
        result = {"command": " ".join(["bench/simulations.py", *sys.argv[1:]]),
                  "loads": {k: LOADS[k] for k in LOADS if any(d["load"] == k for d in days)},
                  "comparison": compare(days), "wall_s": None, "days": days}
        if args.json:
            args.json.write_text(_dumps(result))
        return
    loads = [x for x in args.loads.split(",") if x]
    variants = [x for x in args.variants.split(",") if x]
    for name in loads + variants:
        if name not in LOADS and name not in VARIANTS:
            parser.error(f"unknown load or variant {name!r}")
    charted = {(args.first_seed, v, "busy") for v in ("product", "manager_without_alerts", "no_manager")}
    work: list[tuple[str, tuple[int, str, str, float | None, Path | None]]] = []
    for seeds, seed_list, allowed in (("tuning", range(args.first_seed, args.first_seed + args.seeds), variants),
                                      ("held_out", _seed_range(args.held_out),
                                       [v for v in variants if v in HELD_OUT_VARIANTS])):
        for load in loads:
            for seed in seed_list:
                for variant in allowed:
                    plot = args.plot if args.plot and seeds == "tuning" and (seed, variant, load) in charted else None
                    work.append((seeds, (seed, variant, load, args.tick, plot)))
    days: list[dict[str, Any]] = []
    if args.days_log is not None and args.days_log.exists():
        wanted = {(seeds, w[0], w[1], w[2]) for seeds, w in work}
        for line in args.days_log.read_text().splitlines():
            day = json.loads(line)
            if (day["seeds"], day["seed"], day["variant"], day["load"]) in wanted:
                days.append(day)
        done = {(d["seeds"], d["seed"], d["variant"], d["load"]) for d in days}
        work = [(seeds, w) for seeds, w in work if (seeds, w[0], w[1], w[2]) not in done]
    log = args.days_log.open("a") if args.days_log is not None else None
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for n, ((seeds, _), day) in enumerate(zip(work, pool.map(one_day, [w for _, w in work]), strict=True), 1):
            days.append({"seeds": seeds, **day})
            if log is not None:
                log.write(json.dumps(days[-1], ensure_ascii=False) + "\n")
                log.flush()
            print(f"\r{n}/{len(work)} days", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    result = {"command": " ".join(["bench/simulations.py", *sys.argv[1:]]), "loads": {k: LOADS[k] for k in loads},
              "started_at": int(time.time() - (time.perf_counter() - started)),
              "comparison": compare(days), "wall_s": round(time.perf_counter() - started, 1), "days": days}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(_dumps(result))
    print(json.dumps({k: {v: {"incidents": f["incidents"]["total"], "complaints": f["complaints"]["total"],
                                "mean_wait_s": f["wait_s"]["mean"]} for v, f in c["variants"].items()}
                      for k, c in result["comparison"].items()}, indent=2))


if __name__ == "__main__":
    main()
