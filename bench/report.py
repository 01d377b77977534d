"""Writes BENCHMARKS.md from the results in bench/results/ (run by ``make bench``; never edit the
Markdown by hand: change the benchmark or this file and run it again).

    .venv/bin/python bench/report.py [--results bench/results] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown"
    return (f"{cpu}, {os.cpu_count()} cores, {memory} RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()} (a shared machine: figures are medians of repeated runs)")


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def minutes(s: float | None) -> str:
    return "—" if s is None else f"{s / 60:.1f} min"


def sweep_section(data: dict[str, Any]) -> list[str]:
    rows = data["results"]
    out = [
        "## Alert sweep against hall size",
        "",
        f"Command: `{data['command']}` — the real `AlertEngine.evaluate` on a synthetic hall in SQLite (WAL,",
        "synchronous FULL): read the branch, run every rule, reconcile with the stored alerts. *Full read* is a",
        "sweep after any change in the hall; *unchanged hall* is the next sweep when nothing changed (the",
        "engine checks the event log's mark and reuses its snapshot; the rules still run at the new time).",
        "",
        "| counters × waiting | full read, median ms | p90 ms | µs per waiting ticket | unchanged hall, median ms |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        per = r["median_ms"] * 1000 / max(1, r["waiting"])
        out.append(f"| {r['counters']} × {r['waiting']} | {r['median_ms']} | {r['p90_ms']} | {per:.1f} | "
                   f"{r.get('unchanged_median_ms', '—')} |")
    mid = next((r for r in rows if (r["counters"], r["waiting"]) == (50, 2000)), None)
    big = next((r for r in rows if (r["counters"], r["waiting"]) == (500, 20000)), None)
    if mid:
        out += ["", f"Target: under 50 ms at 50 × 2,000 — {mid['median_ms']} ms median: "
                    f"{verdict(mid['median_ms'] < 50)}."]
    if mid and big:
        growth = (big["median_ms"] / big["waiting"]) / (mid["median_ms"] / mid["waiting"])
        out.append(f"Growth from 50 × 2,000 to 500 × 20,000 (10× the hall): {big['median_ms'] / mid['median_ms']:.1f}× "
                   f"the time, {growth:.2f}× the cost per ticket — {verdict(growth <= 1.2)} (no faster than linear).")
    return out + [""]


NAMES = {"product": "alerts + manager", "manager_without_alerts": "manager without alerts",
         "no_manager": "no manager", "fifo": "no manager, `fifo`", "slow_manager": "alerts + slow manager"}
SETS = {"tuning": "seeds {first}–{last}", "held_out": "held-out seeds {first}–{last}"}
KINDS = ("short_queue", "idle_counter", "paused_ratio", "service_overrun")


def interval(c: dict[str, Any] | None) -> str:
    if not c or c.get("change") is None:
        return "—"
    return f"{c['change']:+.0%} [{c['low']:+.0%}, {c['high']:+.0%}]"


def _set_name(block: dict[str, Any]) -> str:
    seeds = block["seed_list"]
    return SETS[block["seeds"]].format(first=seeds[0], last=seeds[-1])


def _mins(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def simulation_section(data: dict[str, Any], charts: list[str]) -> list[str]:
    comparison = data["comparison"]
    blocks = list(comparison.values())
    busy = [b for b in blocks if b["load"] == "busy"]
    days = sum(f["days"] for b in blocks for f in b["variants"].values())
    run_s = sorted(d["run_s"] for d in data["days"])
    loads = data.get("loads", {})
    out = [
        "## The simulator's comparisons",
        "",
        f"Command: `{data['command']}` — {days} simulated days of the busy eight-counter branch "
        f"({', '.join(f'{k}: {v:.0f} customers expected' for k, v in loads.items())}); "
        + (f"{data['wall_s'] / 60:.0f} min in all on this shared machine, " if data.get("wall_s") else "")
        + f"a day's median run time {run_s[len(run_s) // 2]:.1f} s.",
        "",
        "Each seed's days have the same customers and tellers in every variant (separate random streams),",
        "so the differences are the system's and the manager's, not the draw's:",
        "",
        "- **alerts + manager** (`product`): the alerts, and the lobby manager acting on their cards, answering",
        "  help requests and walking the hall every few minutes; call order `at_risk_first`;",
        "- **manager without alerts** (`manager_without_alerts`): the same person answering help requests (as",
        "  a phone call would) and walking the hall, acting only on what the hall shows;",
        "- **no manager** (`no_manager`), and **no manager, `fifo`** (call-next in plain order);",
        "- **alerts + slow manager** (`slow_manager`): the product with a manager half as attentive and twice as slow.",
        "",
        "The manager is one person (server/simulator/manager.py): reactions queue one at a time, help",
        "requests and critical cards first; whether a card is acted on at all is drawn once per card (80%;",
        "40% for the slow one); a reaction takes log-normal time around 75 s (read, walk, say it), a help on",
        "the spot a walk (about 45 s) and the authorization (1–3 min). The manager acts only through the",
        "API (an instruction the simulated teller answers, *on my way* and *done* to a help request, a",
        "word to a reserve teller) and sees only what the dashboard and the hall show. Tellers answer",
        "instructions after 5–30 s; lunch (its own pause reason), meetings and cash runs are never cut",
        "short; asked to end a break, a teller agrees 60% of the time and takes the rest later. Help ends",
        "only the wait for the authorization (otherwise 6–18 min from the back office), not the",
        "transaction.",
        "",
        "*Complaints* come from a patience model (server/simulator/world.py `patience_s`): a customer who",
        "saw at most two people ahead is patient for about 10 minutes (log-normal, σ 0.25); one who saw a",
        "longer queue for 10 minutes plus 5 per person beyond two (σ 0.35); a customer complains when the",
        "wait passes their patience. *Incidents* are complaint kinds #3–#6 counted afterwards with their",
        "own thresholds (server/simulator/incidents.py, never read from the alert config). Intervals:",
        "bootstrap over seeds (10,000 resamples of the seeds, paired, percentile 95%) of the relative",
        "change of the summed figure.",
        "",
    ]
    out += _targets(busy)
    for block in sorted(blocks, key=lambda b: (b["seeds"] != "held_out", b["load"] != "busy")):
        out += _variants_table(block)
    out += _changes_table(blocks)
    out += _alerts_tables(busy)
    out += _reach_table(blocks)
    out += _call_order(busy)
    out += _hours_table(blocks)
    out += _tools_table(blocks)
    for chart in charts:
        out += [f"![{Path(chart).stem}]({chart})", ""]
    return out


def _targets(busy: list[dict[str, Any]]) -> list[str]:
    out = ["### Targets (the busy day)", "", "| target | " + " | ".join(_set_name(b) for b in busy) + " | |",
           "|---|" + "---|" * (len(busy) + 1)]
    misses: list[str] = []

    def row(name: str, cells: list[tuple[str, bool | None]], why: str) -> None:
        known = [ok for _, ok in cells if ok is not None]
        ok = all(known) if known else None
        out.append(f"| {name} | " + " | ".join(text for text, _ in cells) + f" | {verdict(ok)} |")
        if ok is False:
            misses.append(why)

    def fig(block: dict[str, Any], variant: str) -> dict[str, Any] | None:
        return block["variants"].get(variant)

    cells = []
    for b in busy:
        f = fig(b, "product")
        shown = f["alerts_shown"] if f else None
        cells.append(("—", None) if not shown else (
            f"{shown['peak_hour_mean']:.0f} on the mean day (worst day {shown['peak_hour_max']})",
            shown["peak_hour_mean"] <= 12))
    row("alerts shown to the manager, busiest hour ≤ 12", cells, "peak")
    cells = []
    for b in busy:
        f = fig(b, "product")
        cells.append(("—", None) if not f else (f"{f['alerts_shown']['mean_per_hour']:.1f}",
                                                f["alerts_shown"]["mean_per_hour"] <= 6))
    row("… mean ≤ 6 an hour", cells, "mean")
    cells = []
    for b in busy:
        f = fig(b, "no_manager")
        share = f["followed_share"] if f else None
        cells.append(("—", None) if share is None else (
            f"{pct(share)} followed, {pct(f['late_share'])} late", share >= 0.6))
    row("≥ 60% of alerts (no manager) followed by what they foretell", cells, "followed")
    cells = []
    for b in busy:
        f = fig(b, "no_manager")
        sq = f["short_queue_complaints"] if f else None
        cells.append(("—", None) if not sq or sq["recall"] is None else (
            f"{pct(sq['recall'])} ({sq['warned']} of {sq['complaints']}), median lead {minutes(sq['median_lead_s'])}",
            sq["recall"] >= 0.9 and (sq["median_lead_s"] or 0) >= 180))
    row("short-queue complaints warned ≥ 90%, median lead ≥ 3 min (no manager)", cells, "recall")
    for base, line, name in (("no_manager", 0.6, "no manager"),
                             ("manager_without_alerts", 0.4, "the manager without alerts")):
        cells = []
        for b in busy:
            c = b["changes"]["incidents"].get(f"product_vs_{base}")
            cells.append(("—", None) if not c or c["change"] is None else (
                f"{interval(c)} ({c['ours']:.0f} vs {c['base']:.0f})", -c["change"] >= line))
        row(f"alerts + manager: ≥ {line:.0%} fewer incidents than {name}", cells, base)
    cells = []
    for b in busy:
        c = b["changes"]["mean_wait"].get("product_vs_manager_without_alerts")
        cells.append(("—", None) if not c or c["change"] is None else (interval(c), c["change"] <= 0))
    row("… at no longer mean wait (than the manager without alerts)", cells, "wait")
    cells = []
    for b in busy:
        c1 = b["changes"]["incidents"].get("slow_manager_vs_no_manager")
        c2 = b["changes"]["incidents"].get("slow_manager_vs_manager_without_alerts")
        cells.append(("—", None) if not c1 else (f"{interval(c1)} vs none; {interval(c2)} vs without alerts", None))
    row("alerts + slow manager (reported; against the manager without alerts at normal pace)", cells, "")
    out += ["", "Incidents changes are the summed incidents of the variant against its baseline over the same",
            "seeds, with the bootstrap 95% interval; a target is met when the figure meets it on both seed sets.", ""]
    out += _limits(busy, misses)
    return out


def _limits(busy: list[dict[str, Any]], misses: list[str]) -> list[str]:
    """What limits each missed target, from the same runs."""
    if not misses:
        return []
    out = ["**What limits the misses.**", ""]
    b = next((x for x in busy if x["seeds"] == "held_out"), busy[0])
    v = b["variants"]
    if {"peak", "mean"} & set(misses) and "product" in v:
        per_day = v["product"]["alerts_shown"]["per_day"]
        top = sorted(per_day.items(), key=lambda kv: -kv[1])[:3]
        out.append("- *Alerts shown*: cards raised a day with the manager, by rule: " + ", ".join(
            f"`{rule}` {n:.0f}" for rule, n in top) + " (" + _set_name(b) + "). The alert rules decide this "
            "(server/alerts/, not the simulator); the busy day is overloaded (see the waits below), so the "
            "situations are real and many.")
    if "followed" in misses and "no_manager" in v:
        table = v["no_manager"]["follow_up"]
        worst = sorted(((r, row) for r, row in table.items() if row["forecast"] and row["raised"]),
                       key=lambda kv: -(kv[1]["raised"] - kv[1]["followed"]))[:3]
        out.append("- *Alerts followed*: the cards most often followed by nothing (no manager, " + _set_name(b) + "): "
                   + "; ".join(f"`{r}` {row['followed']} of {row['raised']} followed, {row['late']} late"
                               for r, row in worst) + ". See the table per rule below.")
    if "recall" in misses and "no_manager" in v:
        sq = v["no_manager"]["short_queue_complaints"]
        missed = sq.get("missed")
        detail = "" if not missed else (
            f" Of the {missed['no_card'] + missed['late_card']} missed, {missed['no_card']} had no card at all and "
            f"{missed['late_card']} a card after the complaint; their median patience was "
            f"{minutes(missed['median_patience_s'])}.")
        out.append(f"- *Short-queue recall*: {sq['warned']} of {sq['complaints']} complaints had a card before them. "
                   "The rule warns when the projected wait crosses the ten-minute line; a customer whose patience "
                   "is shorter than the line (a fifth of them are under 8 min) can complain before the "
                   "projection crosses it, or be called soon after without the projection ever crossing." + detail)
    if {"no_manager", "manager_without_alerts"} & set(misses) and "no_manager" in v:
        kinds = {name: v[name]["incidents"] for name in ("no_manager", "manager_without_alerts", "product")
                 if name in v}
        out.append("- *Incidents*: by kind, " + "; ".join(
            f"{NAMES[name]} " + ", ".join(f"{k} {inc[k]}" for k in KINDS) for name, inc in kinds.items()) + ".")
        reach = v["no_manager"].get("within_reach")
        if reach:
            sq, comp = reach["short_queue_incidents"], reach["complaints"]
            out.append(f"  Without a manager, only {sq['within_reach']} of {sq['total']} short-queue incidents and "
                       f"{comp['within_reach']} of {comp['total']} complaints had, while the customer waited, "
                       "a counter "
                       "for them free for a minute or on a break a manager may end: for the rest every counter that "
                       "could serve them was serving, at lunch, in a meeting or on a cash run, and no instruction "
                       "makes a counter. Transaction overruns come mostly from authorizations, which the teller's "
                       "help request brings to the manager with or without alerts.")
            overruns = min(v[name]["incidents"]["service_overrun"] for name in ("product", "manager_without_alerts")
                           if name in v)
            floor = (sq["total"] - sq["within_reach"]) + overruns
            total = v["no_manager"]["incidents"]["total"]
            out.append(f"  A rough bound: a manager who removed every idle-counter and paused-counters incident and "
                       f"every short-queue incident within reach would still leave the "
                       f"{sq['total'] - sq['within_reach']} out of reach and about {overruns} overruns (as many as "
                       f"the days with a manager had): at best about {1 - floor / total:.0%} fewer incidents than "
                       "no manager.")
            walk = v.get("manager_without_alerts")
            walk_reach = (walk or {}).get("within_reach")
            if walk and walk_reach:
                removable = (walk["incidents"]["idle_counter"] + walk["incidents"]["paused_ratio"]
                             + walk_reach["short_queue_incidents"]["within_reach"])
                out.append(f"  Against the manager without alerts, what alerts could add is on idle counters, "
                           f"pauses and short queues within reach: {removable} of its {walk['incidents']['total']} "
                           f"incidents, at best {removable / walk['incidents']['total']:.0%} fewer.")
    if "wait" in misses:
        out.append("- *Mean wait*: see the changes table; the difference is within the seeds' noise where its "
                   "interval spans zero.")
    return out + [""]


def _variants_table(block: dict[str, Any]) -> list[str]:
    out = [f"### {block['load'].capitalize()} day, {_set_name(block)}", "",
           "| variant | incidents | complaints | mean wait (min) | p90 wait | teller-min serving / day | "
           "paused (of which lunch) | cards raised / h (busiest hour) | manager reactions / h (most in 10 min) | "
           "manager busy |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in block["variants"].items():
        t = f["teller_minutes_per_day"]
        m = f["manager"]
        work = "—" if not m else f"{m['reactions_per_hour']:.1f} ({m['reactions_peak_10min_max']})"
        busy = "—" if not m else f"{m['busy_share']:.0%}"
        out.append(
            f"| {NAMES.get(name, name)} | {f['incidents']['total']} | {f['complaints']['total']} | "
            f"{_mins(f['wait_s']['mean'])} | {_mins(f['wait_s']['p90'])} | {t['serving']:.0f} | "
            f"{t['paused']:.0f} ({t['paused_by_reason'].get('lunch', 0):.0f}) | "
            f"{f['alerts_shown']['mean_per_hour']:.1f} ({f['alerts_shown']['peak_hour_mean']:.0f}) | {work} | {busy} |")
    n = next(iter(block["variants"].values()))["days"]
    out += ["", f"Sums over the {n} seeds; waits, minutes and rates are means per day. Cards are raised in every "
            "variant; only the product's manager sees them (the one without alerts gets the help requests, by "
            "phone). Reactions: cards and help requests handled; busy: share of the opening hours the manager "
            "spent on cards, help and rounds.", ""]
    work = {name: f["manager"] for name, f in block["variants"].items() if f["manager"]}
    if work:
        out.append("What the manager did a day: " + "; ".join(
            f"{NAMES[name]}: " + ", ".join(f"{k} {n}" for k, n in m["steps_per_day"].items())
            + f" (tellers answered {', '.join(f'{k} {n}' for k, n in m['answers_per_day'].items()) or 'nothing'})"
            for name, m in work.items()) + ".")
        out.append("")
    return out


def _changes_table(blocks: list[dict[str, Any]]) -> list[str]:
    pairs = [("product", "no_manager"), ("product", "manager_without_alerts"), ("manager_without_alerts", "no_manager"),
             ("slow_manager", "no_manager"), ("slow_manager", "manager_without_alerts")]
    ordered = sorted(blocks, key=lambda b: (b["seeds"] != "held_out", b["load"] != "busy"))
    out = ["### Changes, with 95% intervals over seeds", "",
           "| | " + " | ".join(f"{b['load']}, {_set_name(b)}" for b in ordered) + " |",
           "|---|" + "---|" * len(ordered)]
    for what, label in (("incidents", "incidents"), ("complaints", "complaints"), ("mean_wait", "mean wait"),
                        ("p90_wait", "p90 wait")):
        for a, base in pairs:
            cells = [interval(b["changes"][what].get(f"{a}_vs_{base}")) for b in ordered]
            if any(c != "—" for c in cells):
                out.append(f"| {label}: {NAMES[a]} vs {NAMES[base]} | " + " | ".join(cells) + " |")
    return out + [""]


def _alerts_tables(busy: list[dict[str, Any]]) -> list[str]:
    out = ["### What each card foretold (no manager, busy day)", "",
           "A card is *followed* when what it foretells happened after it: its incident (after the situation",
           "began), or its customer's complaint; for a counter, service or branch card, a complaint by a customer",
           "it concerns while it was open. *Late*: it came after its incident or complaint. A card that joined",
           "other situations (one card per situation) counts as followed when any of them was.", ""]
    for b in busy:
        f = b["variants"].get("no_manager")
        if not f:
            continue
        product = b["variants"].get("product")
        out += [f"{_set_name(b)}:", "",
                "| rule | cards / day (with the manager) | raised | followed | late | not followed | followed share |",
                "|---|---|---|---|---|---|---|"]
        n = f["days"]
        for rule, row in f["follow_up"].items():
            share = pct(row["followed"] / row["raised"]) if row["forecast"] and row["raised"] else "no forecast"
            with_manager = product["alerts_shown"]["per_day"].get(rule, 0) if product else "—"
            out.append(f"| `{rule}` | {row['raised'] / n:.1f} ({with_manager}) | {row['raised']} | {row['followed']} | "
                       f"{row['late']} | {row['not_followed']} | {share} |")
        out += ["", f"All forecasting cards: {pct(f['followed_share'])} followed, {pct(f['late_share'])} late.", ""]
    return out


def _reach_table(blocks: list[dict[str, Any]]) -> list[str]:
    out = ["### Short-queue complaints: warned, and within a manager's reach (no manager)", "",
           "| | complaints (short queue) | warned | median lead | complaints within reach | "
           "short-queue incidents within reach |",
           "|---|---|---|---|---|---|"]
    for b in sorted(blocks, key=lambda b: (b["seeds"] != "held_out", b["load"] != "busy")):
        f = b["variants"].get("no_manager")
        if not f:
            continue
        sq, reach = f["short_queue_complaints"], f.get("within_reach") or {}
        comp, inc = reach.get("complaints", {}), reach.get("short_queue_incidents", {})
        out.append(f"| {b['load']}, {_set_name(b)} | {f['complaints']['total']} ({sq['complaints']}) | "
                   f"{pct(sq['recall'])} | "
                   f"{minutes(sq['median_lead_s'])} | {comp.get('within_reach', '—')} of {comp.get('total', '—')} | "
                   f"{inc.get('within_reach', '—')} of {inc.get('total', '—')} |")
    out += ["", "*Within reach*: while the customer waited, a counter that serves them was free for a minute or",
            "more, or on a break a manager may end (server/simulator/incidents.py `within_reach`).", ""]
    return out


def _call_order(busy: list[dict[str, Any]]) -> list[str]:
    out = ["### Call order and estimates (no manager)", ""]
    for b in busy:
        v = b["variants"]
        if "no_manager" not in v or "fifo" not in v:
            continue
        sq = b["changes"]["short_queue_incidents"].get("no_manager_vs_fifo")
        wait = b["changes"]["mean_wait"].get("no_manager_vs_fifo")
        eta = v["no_manager"]["eta"]
        better = 1 - eta["eta_mae_s"] / eta["naive_mae_s"] if eta["eta_mae_s"] and eta["naive_mae_s"] else None
        out.append(f"- {_set_name(b)}: `at_risk_first` against `fifo`, short-queue incidents {interval(sq)} "
                   f"({v['no_manager']['incidents']['short_queue']} vs {v['fifo']['incidents']['short_queue']}; "
                   f"target −33%: {verdict(None if not sq or sq['change'] is None else sq['change'] <= -1 / 3)}), "
                   f"mean wait {interval(wait)} (target at most +5%: "
                   f"{verdict(None if not wait or wait['change'] is None else wait['change'] <= 0.05)}); estimated "
                   f"wait, mean absolute error {minutes(eta['eta_mae_s'])} against the naive "
                   f"{minutes(eta['naive_mae_s'])} "
                   f"({pct(better)} lower; target 25%: {verdict(None if better is None else better >= 0.25)}).")
    return out + [""]


def _variant_table(blocks: list[dict[str, Any]], head: list[str], key: str,
                   cells: Callable[[dict[str, Any]], str]) -> list[str]:
    """``head`` (title, text, table header), then a row per seed set, load and variant with the
    figures under ``key`` (``cells`` makes the row's last cells of them); nothing when none has them."""
    out = list(head)
    rows = 0
    for b in sorted(blocks, key=lambda b: (b["seeds"] != "held_out", b["load"] != "busy")):
        for name, v in b["variants"].items():
            figures = v.get(key)
            if not figures:
                continue
            rows += 1
            out.append(f"| {_set_name(b)}, {b['load']} | {name} | {v['days']} | {cells(figures)} |")
    return out + [""] if rows else []


def _hours_table(blocks: list[dict[str, Any]]) -> list[str]:
    """The branch's hours in the simulation: the door, closing, and promises kept."""
    head = ["### Hours: refused at the door, sent home at closing, and who had been told", "",
            "Customers who come after the last-ticket time are refused at the door; those still waiting at",
            "closing are cancelled. *Unwarned*: of those, customers never told they might not be served today",
            "— not by the kiosk (`fits_before_close: false`) nor, while waiting, at least 15 minutes before",
            "closing (the minute housekeeping's `late_warned_at`, on the phone page and the lobby screen).",
            "Target: zero.", "",
            "| seeds, load | variant | days | refused at the door | cancelled at closing | of which unwarned "
            "| told while waiting |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    return _variant_table(blocks, head, "hours", lambda h: (
        f"{h['refused_at_door']['total']} | {h['cancelled_at_closing']['total']} "
        f"| {h['cancelled_unwarned']['total']} | {h['warned_while_waiting']['total']}"))


def _tools_table(blocks: list[dict[str, Any]]) -> list[str]:
    """Priority customers and the counter's tools in the simulation (what they cost the others)."""
    head = ["### Priority customers, holds and late no-shows", "",
            "5% of customers take a priority ticket (`[queue] priority_share` 1.0: always first within their",
            "service); half the no-shows come back 1–7 min late and the teller returns their ticket to the",
            "front; 3% are sent to fetch a document part way through, set aside (`hold`) and called back by",
            "the same teller. Means of the days' mean waits (issue to first call) and per-day counts:", "",
            "| seeds, load | variant | days | priority customers' wait | others' wait | priority tickets "
            "| set aside | called back | late no-shows returned |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    return _variant_table(blocks, head, "counter_tools", lambda t: (
        f"{minutes(t['priority_wait_s'])} | {minutes(t['others_wait_s'])} | {t['per_day']['priority']} "
        f"| {t['per_day']['held']} | {t['per_day']['called_back']} | {t['per_day']['returned']}"))


def http_section(data: dict[str, Any]) -> list[str]:
    by = {(r["kind"], r["clients"]): r for r in data["http"]}
    sqlite = {r["clients"]: r for r in data["sqlite"]}
    levels = sorted(sqlite)
    out = [
        "## Ticket issue and call-next over HTTP, beside their ceilings",
        "",
        f"Command: `{data['command']}` — one server process as deployed (gevent, SQLite WAL, synchronous FULL),",
        "load from separate processes over kept-alive connections. `health` is the cheapest JSON endpoint (the",
        "framework ceiling); *SQLite commits* are bare one-row durable commits in the same run (the storage ceiling).",
        "",
        "| clients | health /s | issue /s (p50 / p99 ms) | call-next /s (p50 / p99 ms) | SQLite commits /s | "
        "issue ÷ health | issue ÷ SQLite |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in levels:
        health, issue, call = by[("health", n)], by[("issue", n)], by[("call_next", n)]
        out.append(f"| {n} | {health['per_s']} | {issue['per_s']} ({issue['p50_ms']} / {issue['p99_ms']}) | "
                   f"{call['per_s']} ({call['p50_ms']} / {call['p99_ms']}) | {sqlite[n]['per_s']} | "
                   f"{issue['per_s'] / health['per_s']:.2f} | {issue['per_s'] / sqlite[n]['per_s']:.3f} |")
    top = max(levels)
    issue, health = by[("issue", top)], by[("health", top)]
    out += [
        "",
        f"Targets at {top} clients: ≥ 1,000 tickets/s — {issue['per_s']}/s: {verdict(issue['per_s'] >= 1000)}; "
        f"≥ half the cheapest endpoint — {issue['per_s'] / health['per_s']:.0%}: "
        f"{verdict(issue['per_s'] >= health['per_s'] / 2)}; p99 < 50 ms — {issue['p99_ms']} ms: "
        f"{verdict(issue['p99_ms'] < 50)}.",
        "",
        "What limits it: one process, one core (gevent runs one request's Python at a time). Since issue 17 a",
        "ticket issue is four SQL statements on SQLite (the hall in one read, the number, the ticket, its event)",
        "plus the commit; the caller's token comes from memory and the kiosk limit is counted in the process;",
        "the commit waits for the disk on a native thread, and writers queued meanwhile share one commit (group",
        "commit, server/db.py). What is left is Python: in an in-process profile an issue costs about 1.4 ms",
        "(SQLAlchemy's statement execution about a third, the answer's and the messages' views and Flask the",
        "rest) against about 0.23 ms for the cheapest endpoint, which the token cache made cheaper too: half its",
        "rate would need an issue within twice its cost. Call-next claims the first ticket in the call order",
        "with one sorted statement over the waiting tickets: this benchmark's issue phase leaves thousands",
        "waiting (a branch has tens), and the tellers' no-shows all finish at one instant of the manual clock.",
        "Past one process: PostgreSQL and Redis, measured in the scale-out section.",
        "",
    ]
    return out


SCALEOUT_GROWTH = 1.6  # issue 17's targets
SCALEOUT_LOCK_SHARE = 0.25
WAIT_EVENTS = {
    "Lock:transactionid": "waiting for the transaction that last updated a row to end",
    "Lock:tuple": "queued for a row behind another waiter",
    "IO:WALSync": "the commit's flush to disk",
    "CPU": "running (no wait event)",
}


def scaleout_targets(data: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Issue 17's targets, from the run's medians: (target, figure, met)."""
    one, two = data["summary"].get("1", {}), data["summary"].get("2", {})
    rows: list[tuple[str, str, bool | None]] = []
    for kind, name in (("issue", "ticket issue"), ("call_next", "call-next")):
        if kind in one and kind in two and one[kind]["per_s"]:
            growth = two[kind]["per_s"] / one[kind]["per_s"]
            rows.append((f"{name}: 2 processes ≥ {SCALEOUT_GROWTH}× the throughput of 1 process",
                         f"{growth:.2f}× ({one[kind]['per_s']:g} → {two[kind]['per_s']:g}/s)",
                         growth >= SCALEOUT_GROWTH))
        if all(kind in s and s.get("health", {}).get("per_s") for s in (one, two)):
            r1, r2 = (s[kind]["per_s"] / s["health"]["per_s"] for s in (one, two))
            rows.append((f"{name}: ratio to the cheapest endpoint no worse than with 1 process",
                         f"{r1:.3f} → {r2:.3f}", r2 >= r1))
    pg = (data.get("hot_spot") or {}).get("postgres") or {}
    if pg.get("samples"):
        # The sessions working for a request: running a statement (active) or between two of one
        # transaction (idle in transaction, while the server's Python runs). Issue 17's finding was
        # "12 of the 16 database sessions" of 16 kiosks, every one of them in a transaction.
        busy = pg["active_mean"] + pg.get("idle_in_transaction_mean", 0.0)
        share = pg["lock_mean"] / busy if busy else 0.0
        rows.append(("hot spot: ≤ 1/4 of sessions waiting on locks",
                     f"{share:.0%} of the sessions in a transaction ({pg['lock_mean']:g} of {busy:.2f}, mean); "
                     f"{pg['lock_share']:.0%} of those running a statement "
                     f"({pg['lock_mean']:g} of {pg['active_mean']:g})",
                     share <= SCALEOUT_LOCK_SHARE))
    return rows


def scaleout_quiet(data: dict[str, Any]) -> str:
    """How quiet the shared machine was when the phases started."""
    found = [r["quiet_before"] for r in [*data.get("runs", []), data.get("hot_spot") or {}] if r.get("quiet_before")]
    if not found:
        return ""
    quiet = sum(1 for q in found if q["quiet"])
    return (f" Each phase waited for other work on the machine to quieten (under 30% of a core; "
            f"{sum(q['waited_s'] for q in found):.0f} s in all): {quiet} of {len(found)} phases started quiet.")


def scaleout_section(data: dict[str, Any]) -> list[str]:
    s, m, pg = data["settings"], data["machine"], data["postgres"]
    summary = data["summary"]
    commits = {c["connections"]: c for c in data["commits"]}
    out = [
        "## Scale-out (issue 17): many branches on PostgreSQL, one and two processes",
        "",
        f"Command: `{data['command']}` ({data['wall_s'] / 60:.1f} min) — its own PostgreSQL {pg['server_version']}"
        f" (fsync {pg['fsync']}, synchronous_commit {pg['synchronous_commit']}) and Redis; {s['branches']} branches"
        f" of {s['services_per_branch']} services and {s['counters_per_branch']} counters in one time zone, "
        f"{s['kiosks']} kiosks and {s['tellers']} tellers (one per counter, signed in); `python -m server serve` "
        f"processes as deployed (production mode, Redis message queue and rate limits), the schema migrated once. "
        f"{s['clients']} clients (separate processes, one kept-alive connection each) dealt round-robin over the "
        f"processes, the same clients for 1 and 2 processes; *issue*: each client turns through the kiosks of its "
        f"share of the branches, both services; *call-next*: through its share of the tellers, call-next then a "
        f"no-show (only call-next counted); *health*: `GET /api/v1/health` without a token (the cheapest "
        f"endpoint). Phases of {s['seconds']:g} s, medians of {s['rounds']} rounds; {m['cores']} cores "
        f"({m['cpu']}), code at `{data['git']['commit'][:10]}`." + scaleout_quiet(data),
        "",
        "The storage's own durable commit rate, on the same cluster in the same run (bare psycopg one-row "
        "INSERT + COMMIT):",
        "",
        "| connections | commits/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for n in sorted(commits):
        c = commits[n]
        out.append(f"| {n} | {c['per_s']:g} | {c['p50_ms']} | {c['p99_ms']} |")
    most = commits[max(commits)]["per_s"] if commits else None
    out += [
        "",
        "| processes | health /s (p99 ms) | issue /s (p50 / p99 ms) | call-next /s (p50 / p99 ms) | issue ÷ health "
        "| call-next ÷ health | issue ÷ commits (16 connections) |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in sorted(summary, key=int):
        f = summary[n]
        h, i, c = f["health"], f["issue"], f["call_next"]
        out.append(f"| {n} | {h['per_s']:g} ({h['p99_ms']}) | {i['per_s']:g} ({i['p50_ms']} / {i['p99_ms']}) | "
                   f"{c['per_s']:g} ({c['p50_ms']} / {c['p99_ms']}) | {i['per_s'] / h['per_s']:.3f} | "
                   f"{c['per_s'] / h['per_s']:.3f} | " + (f"{i['per_s'] / most:.3f}" if most else "—") + " |")
    if "1" in summary and "2" in summary:
        one, two = summary["1"], summary["2"]
        out.append("| 2 ÷ 1 | " + " | ".join(f"{two[k]['per_s'] / one[k]['per_s']:.2f}×"
                                             for k in ("health", "issue", "call_next")) + " | | | |")
    out += ["", f"Verdict: {data['verdict']}.", "", "| target | figure | |", "|---|---|---|"]
    rows = scaleout_targets(data)
    for target, figure, ok in rows:
        out.append(f"| {target} | {figure} | {verdict(ok)} |")
    hot = data.get("hot_spot")
    if hot:
        hp = hot["postgres"]
        events = ", ".join(f"`{name}` {n:g}" for name, n in hp["wait_events"].items())
        out += ["", f"Hot spot: {s['hot_clients']} kiosks of one branch, all for one service, on 2 processes: "
                    f"{hot['per_s']:g} tickets/s, p50 {hot['p50_ms']} ms, p99 {hot['p99_ms']} ms. "
                    f"`pg_stat_activity` every 50 ms ({hp['samples']} samples): active sessions mean "
                    f"{hp['active_mean']:g} (median {hp['active_median']:g}), of them waiting on locks mean "
                    f"{hp['lock_mean']:g} (median {hp['lock_median']:g}), {hp['lock_share']:.0%}; active sessions "
                    f"by wait event, mean per sample: {events}; idle in a transaction, mean "
                    f"{hp.get('idle_in_transaction_mean', 0):g}. The issues of one service queue in each process for "
                    "the service's number row and commit together (group commit, server/db.py), so at most one "
                    "session per process works for them in the database: of the two, one waits whenever the other "
                    "holds the row, which is why the share of the sessions running a statement stays near half "
                    "while few sessions wait."]
    out += ["", "CPU during the phases (% of one core, medians over the rounds; *other*: the rest of the machine, "
                "other work on a shared one included) and the database sessions (mean per sample):", "",
            "| processes | phase | serve processes | PostgreSQL | clients | other | machine (all cores) | "
            "sessions active | waiting on locks |",
            "|---|---|---|---|---|---|---|---|---|"]
    for n in sorted(summary, key=int):
        for kind in ("health", "issue", "call_next"):
            f = summary[n][kind]
            out.append(f"| {n} | {kind.replace('_', '-')} | {f['serve_cpu_pct']:g} | {f['postgres_cpu_pct']:g} | "
                       f"{f['clients_cpu_pct']:g} | {f['other_cpu_pct']:g} | {min(100, f['machine_cpu_pct']):.0f}% | "
                       f"{f['active_mean']:g} | {f['lock_share']:.0%} |")
    if hot:
        c = hot["cpu"]
        out.append(f"| 2 | hot spot | {sum(c['serve_pct']):g} | {c['postgres_pct']:g} | {c['clients_pct']:g} | "
                   f"{c['other_pct']:g} | {min(100, c['machine_pct']):.0f}% | {hot['postgres']['active_mean']:g} | "
                   f"{hot['postgres']['lock_share']:.0%} |")
    out += [""] + scaleout_limits(data, rows) + [""]
    return out


def scaleout_limits(data: dict[str, Any], rows: list[tuple[str, str, bool | None]]) -> list[str]:
    """What the figures say limits a missed target."""
    if all(ok is not False for _, _, ok in rows):
        return []
    out = ["**What limits the misses** (from the figures above):", ""]
    summary, cores, branches = data["summary"], data["machine"]["cores"], data["settings"]["branches"]
    two = summary.get("2")
    if two and any("processes" in t and ok is False for t, _, ok in rows):
        busy = min(100.0, max(two[k]["machine_cpu_pct"] for k in ("issue", "call_next")))
        f = two["issue"]
        cost = f"; a ticket cost the serve processes {f['serve_cpu_pct'] * 10 / f['per_s']:.1f} ms of CPU" \
            if f["per_s"] else ""
        names: dict[str, float] = {}
        runs = [r for r in data.get("runs", []) if r["processes"] == 2 and r["kind"] == "issue"]
        for run in runs:
            for name, share in run["cpu"].get("other_top", {}).items():
                names[name.split(" (")[0]] = names.get(name.split(" (")[0], 0.0) + share / len(runs)
        top = ", ".join(f"`{name}` {share:.0f}%" for name, share in sorted(names.items(), key=lambda kv: -kv[1])[:3]
                        if share >= 1)
        one = summary.get("1", {}).get("issue")
        bound = ""
        if one and one["per_s"]:
            # CPU-seconds per ticket of each part, from the 1-process figures: with one process bound by
            # its own core, 2 processes on `cores` cores reach at most cores * serve / everything.
            serve, rest = one["serve_cpu_pct"], (one["postgres_cpu_pct"] + one.get("redis_cpu_pct", 0.0)
                                                 + one["clients_cpu_pct"])
            most = min(2.0, cores * serve / (serve + rest)) if serve + rest else None
            if most is not None:
                bound = (f" The ceiling: with 1 process a ticket cost {serve * 10 / one['per_s']:.1f} ms of the "
                         f"serve process's CPU and {rest * 10 / one['per_s']:.1f} ms of PostgreSQL's, Redis's and the "
                         f"client's; if one process is bound by its own core, two on {cores} cores reach at most "
                         f"{cores} × serve ÷ all = {most:.2f}× with nothing else running. The target needs the serve "
                         f"process's share of a ticket's CPU to be at least {SCALEOUT_GROWTH / cores:.0%} (here "
                         f"{serve / (serve + rest):.0%}): a leaner request path raises both throughputs, but their "
                         "ratio only if PostgreSQL's cost per ticket falls with it.")
        shared = (f" Other work on this shared machine took {f['other_cpu_pct']:g}% of a core meanwhile"
                  + (f" (the largest: {top})" if top else "") + ": read the growth beside it."
                  ) if f["other_cpu_pct"] >= 25 else ""
        out.append(f"- *Growth*: with 2 processes the machine's {cores} cores were {busy:.0f}% busy (during issue: "
                   f"serve processes {f['serve_cpu_pct']:g}%, PostgreSQL {f['postgres_cpu_pct']:g}%, clients "
                   f"{f['clients_cpu_pct']:g}%, other {f['other_cpu_pct']:g}% of one core){cost}; "
                   f"{f['lock_share']:.0%} of the active sessions waited on locks across {branches} branches. "
                   "A second process adds throughput only where a core is idle, and here the second core is "
                   "shared with PostgreSQL and the load clients." + bound + shared)
    hot = data.get("hot_spot")
    if hot and any(t.startswith("hot spot") and ok is False for t, _, ok in rows):
        top = next(iter(hot["postgres"]["wait_events"]), None)
        meaning = WAIT_EVENTS.get(top or "", "")
        out.append(f"- *Hot spot*: the wait seen most was `{top}`" + (f", {meaning}" if meaning else "") + "."
                   + (" Every ticket of one service updates the same row (the service's number sequence for the "
                      "day) and holds its lock until it commits, so the other issues queue behind it: the shorter "
                      "the time from that update to the commit, the fewer wait." if (top or "").startswith("Lock:")
                      else ""))
    return out


def realtime_section(data: dict[str, Any]) -> list[str]:
    out = ["## Realtime: many branches, one big room, connections per process", "",
           f"Command: `{data['meta']['command']}` — one `serve` process (gevent, SQLite WAL, synchronous FULL),",
           "Socket.IO clients from separate load processes (python-socketio's asyncio client, websocket "
           "transport).", ""]
    b = data.get("branches")
    if b and b.get("ok"):
        c = b["calls"]
        p99 = c["latency_p99_ms"]
        out += [
            f"**{b['branches']} branches**, each with {b['clients_per_branch']['display']} display, "
            f"{b['clients_per_branch']['manager']} manager and {b['clients_per_branch']['teller']} tellers connected "
            f"({b['connect']['connected']} of {b['clients']} clients), call-next arriving at "
            f"{b['calls_per_s']:g}/s across the "
            f"branches for {b['seconds']:g} s (open loop), each call followed by the teller freeing the counter:",
            "",
            "| | p50 ms | p99 ms | max ms | delivered | missed |",
            "|---|---|---|---|---|---|",
            f"| call-next sent → `ticket_called` at that branch's display | {c['latency_p50_ms']} | {p99} | "
            f"{c['latency_max_ms']} | {c['count']} of {c['sent']} | {c['missed']} |",
            f"| … at the branch's staff (8 tellers + manager) | {c.get('staff_latency_p50_ms', '—')} | "
            f"{c.get('staff_latency_p99_ms', '—')} | {c.get('staff_latency_max_ms', '—')} | "
            f"{c.get('staff_deliveries', '—')} | {c.get('staff_missed', '—')} |",
            f"| call-next HTTP answer | {c.get('http_call_next_p50_ms', '—')} | "
            f"{c.get('http_call_next_p99_ms', '—')} | | | |",
            "",
            f"Target: p99 < 100 ms — {p99} ms: {verdict(c['missed'] == 0 and p99 < 100)}. Server CPU during the calls "
            f"{c.get('server_cpu_pct', '—')}% of one core; memory {b['server']['kb_per_client']} kB per client.",
        ]
        if not (c["missed"] == 0 and p99 < 100):
            out.append("What limits it: one process, one core, about "
                       f"{c.get('server_cpu_ms_per_call', '—')} ms of its CPU per "
                       "call (the call-next and the no-show that frees the counter, their messages to the branch's ten "
                       "clients, the alert evaluation each change sets off); gevent runs one thing at a time, "
                       "so a call "
                       "that lands behind another branch's evaluation or broadcast waits for it. Measured and fixed on "
                       "the way (this run against the first): sweeps that stalled the loop for 250–400 ms, heartbeats "
                       "to every screen every 2 s, whole-branch reads on every connect (p99 16 s → 0.24 s, all calls "
                       "delivered). Past this: several processes with Redis (README).")
        probe = b.get("idle_probe")
        if probe:
            out.append(f"Before the calls, `GET /api/v1/health` every 20 ms on the connected, idle server: p50 "
                       f"{probe['p50_ms']} ms, p99 {probe['p99_ms']} ms (a stalled event loop would show here).")
        out.append("")
    elif b:
        out += [f"**Branches**: the run failed: {b.get('error')}", ""]
    r = data.get("big_room")
    if r and r.get("ok"):
        cw, bare = r["callwise"], r["bare"]
        out += [
            f"**One big room**: {r['clients']} displays of one branch, {r['calls']} calls one at a time; time from the",
            "request until *all* displays received `ticket_called`, beside a bare Flask-SocketIO app (same async mode,",
            "same server and socket options) emitting the same event to as many clients in one room, alternating:",
            "",
            "| | all received p50 ms | p99 ms | first received p50 ms | request answered p50 ms |",
            "|---|---|---|---|---|",
            f"| Callwise call-next | {cw['all_received_p50_ms']} | {cw['all_received_p99_ms']} | "
            f"{cw['first_received_p50_ms']} | {cw['http_p50_ms']} |",
            f"| bare `socketio.emit` | {bare['all_received_p50_ms']} | {bare['all_received_p99_ms']} | "
            f"{bare['first_received_p50_ms']} | {bare['http_p50_ms']} |",
            "",
            f"Target: within 1.2× of the bare broadcast — {r['ratio_p50']}× at p50, {r['ratio_p99']}× at p99: "
            f"{verdict(r['ratio_p50'] <= 1.2)}.",
            "",
            "A call sends every display two messages (`ticket_called`, then `queue_changed` with the new waiting",
            "counts) where the bare app sends one. The server yields between a change's messages, so every",
            "connection sends `ticket_called` before `queue_changed` is queued (without it, each connection sent",
            "both together and the last display heard the call at 1.6× the bare time); the price is the teller's",
            "answer, which waits for that first round (*request answered*: about a millisecond with a branch's",
            "dozen screens). *First received* is later by call-next's own transaction.",
            "",
        ]
    elif r:
        out += [f"**One big room**: the run failed: {r.get('error')}", ""]
    k = data.get("connections")
    if k and k.get("ok"):
        out += [
            f"**Connections**: display clients added {k['step']} at a time up to {k['cap']}; after each step every",
            "client must still be connected and receive a call:",
            "",
            "| clients | connected | call reached all in ms | server RSS MB | kB per client |",
            "|---|---|---|---|---|",
        ]
        for step in k["steps"]:
            out.append(f"| {step['clients']} | {step['still_connected']} | {step['broadcast_all_ms']} | "
                       f"{step['rss_kb'] / 1024:.0f} | {step['kb_per_client']} |")
        stop = "the cap" if k["stopped_by"] == "cap" else f"a failure: {k.get('failure')}"
        out += ["", f"Held {k['max_held']} clients (stopped by {stop}), {k['kb_per_client']} kB each. Target: at least "
                    f"{k['target_clients']:,} — {verdict(k['max_held'] >= k['target_clients'])}.", ""]
    elif k:
        out += [f"**Connections**: the run failed: {k.get('error')}", ""]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/report.py from bench/results/*.json) — not edited by hand.",
        f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on: {machine()}.",
        "",
    ]
    results = args.results
    if (results / "simulations.json").exists():
        charts = sorted(str(p.relative_to(args.out.parent)) for p in (results / "charts").rglob("*.png"))
        lines += simulation_section(json.loads((results / "simulations.json").read_text()), charts)
    if (results / "http_load.json").exists():
        lines += http_section(json.loads((results / "http_load.json").read_text()))
    if (results / "scaleout.json").exists():
        lines += scaleout_section(json.loads((results / "scaleout.json").read_text(encoding="utf-8")))
    if (results / "sweep.json").exists():
        lines += sweep_section(json.loads((results / "sweep.json").read_text()))
    if (results / "realtime.json").exists():
        lines += realtime_section(json.loads((results / "realtime.json").read_text()))
    if (results / "started").exists():
        marks = [int(x) for x in (results / "started").read_text().split()]
        simulated = json.loads((results / "simulations.json").read_text()) if (results / "simulations.json").exists() \
            else {}
        alone = simulated.get("started_at") is not None and simulated["started_at"] > marks[0] + 3 * 3600
        lines += ["## This run", ""]
        if len(marks) > 1:
            took = marks[1] - marks[0]  # `make bench` writes its end there too
        else:
            # An older run: from the start to the last result written.
            took = max(path.stat().st_mtime for path in results.glob("*.json")
                       if not (alone and path.name == "simulations.json")) - marks[0]
        when = datetime.fromtimestamp(marks[0], timezone.utc)
        if alone:
            wall = simulated["wall_s"] / 60
            lines += [f"The simulator's comparisons above were run on their own ({wall:.0f} min); the other "
                      f"figures are from the last `make bench`, started {when:%Y-%m-%d %H:%M} UTC. `make bench` now "
                      f"runs the simulator's {len(simulated['days'])} days in it: about {wall:.0f} min on this shared "
                      f"machine, past the 15-minute target for the whole — {verdict(wall < 15)}. What limits it: a "
                      "day drives the real domain and alert engine (about 9 s of CPU, most of it SQLAlchemy and "
                      "SQLite), two processes on two cores shared with other work; `--seeds`, `--held-out`, "
                      "`--loads` and `--variants` run less.", ""]
        else:
            lines += [f"`make bench` ran end to end in {took / 60:.1f} min (target: under 15 min — "
                      f"{verdict(took < 15 * 60)}).", ""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
