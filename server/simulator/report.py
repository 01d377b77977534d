"""What a simulated day shows: the terminal summary and the charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.simulator.incidents import KINDS
from server.simulator.run import Result

RULE_COLOURS = {
    "short_queue_long_wait": "#d62728", "idle_counter": "#ff7f0e", "paused_ratio": "#9467bd",
    "long_pause": "#8c564b", "service_overrun": "#e377c2", "help_requested": "#17becf",
    "eta_broken": "#7f7f7f", "service_level": "#bcbd22",
}


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value / 60:.1f} min"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def register_line(register: dict[str, Any]) -> str:
    """The complaints the customers made through the register, and how many an alert came before."""
    kinds = ", ".join(f"{kind} {n}" for kind, n in register["kinds"].items())
    return (f"  complaint register: {register['complaints']} recorded ({kinds or 'none'}), "
            f"{register['preceded_by_alert']} preceded by an alert ({_share(register['preceded_share'])}), "
            f"{register['acted']} of those acted on")


MODES = {"alerts": "with alerts", "walk": "without alerts (help requests and rounds)", "none": "none"}


def summary_text(s: dict[str, Any]) -> str:
    wait = s["wait_s"]
    sq = s["short_queue_complaints"]
    shown = s["alerts_shown"]
    minutes = s["teller_minutes"]
    paused = ", ".join(f"{r} {m:.0f}" for r, m in minutes["paused_by_reason"].items())
    lines = [
        f"Simulated day: seed {s['seed']}, policy {s['policy']}, manager {MODES.get(s['manager'], s['manager'])}",
        f"  tickets {s['tickets']} (served {s['served']}), wait mean {_minutes(wait['mean'])}, "
        f"p50 {_minutes(wait['p50'])}, p90 {_minutes(wait['p90'])}, longest {_minutes(wait['max'])}",
        f"  complaints (customers' patience): {s['complaints']['total']} ({s['complaints']['short_queue']} with "
        f"a short queue, warned {_share(sq['recall'])}, median lead {_minutes(sq['median_lead_s'])})",
        register_line(s["register"]),
        f"  complaint incidents: {s['incidents']['total']}  ("
        + ", ".join(f"{k} {s['incidents'][k]}" for k in KINDS) + ")",
        "  warned beforehand: " + ", ".join(
            f"{k} {_share(s['recall'][k])} (lead {_minutes(s['median_lead_s'][k])})" for k in KINDS
            if s["incidents"][k]) if s["incidents"]["total"] else "  warned beforehand: no incidents to warn of",
        "  alerts: " + (", ".join(f"{rule} {n}" for rule, n in s["alerts"].items()) or "none")
        + f"; {shown['mean_per_hour']:.1f} an hour, {shown['peak_hour']} in the busiest hour",
        "  followed by what they foretell: " + (", ".join(
            f"{rule} {row['followed']}/{row['raised']} ({row['late']} late)"
            for rule, row in s["follow_up"].items() if row["forecast"]) or "no alerts"),
        f"  teller-minutes: serving {minutes.get('serving', 0):.0f}, idle {minutes.get('idle', 0):.0f}, "
        f"paused {minutes.get('paused', 0):.0f} ({paused or 'none'})",
        f"  estimated wait, mean error: {_minutes(s['eta_mae_s'])} (naive estimate: {_minutes(s['eta_naive_mae_s'])})",
    ]
    work = s.get("manager_workload")
    if work:
        acted = ", ".join(f"{r} {n}" for r, n in work["steps"].items())
        lines.append(f"  manager: {work['reactions']} reactions ({work['reactions_per_hour']:.1f} an hour, at most "
                     f"{work['reactions_peak_10min']} in ten minutes), busy {_share(work['busy_share'])} of the day, "
                     f"{work['rounds']} rounds; did: {acted or 'nothing'}")
        if s["instruction_answers"]:
            lines.append("  tellers answered: " + ", ".join(f"{k} {n}" for k, n in s["instruction_answers"].items()))
    lines.append(f"  ran in {s['run_s']:.1f} s")
    return "\n".join(lines)


def plot(result: Result, folder: str | Path) -> list[Path]:
    """Two PNG charts on one time line: the waiting line and each ticket's wait, with the alerts
    raised and the incidents below them. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = result.summary
    opening = s.get("opening_hour", 9.0)
    hours = lambda seconds: opening + seconds / 3600  # noqa: E731 - the clock of the simulated branch
    fig, (queue_ax, wait_ax, alert_ax) = plt.subplots(
        3, 1, figsize=(11, 8.5), sharex=True, gridspec_kw={"height_ratios": [3, 3, 2]})
    xs = [hours(at) for at, _ in result.waiting_line]
    queue_ax.step(xs, [n for _, n in result.waiting_line], where="post", color="#1f77b4")
    queue_ax.set_ylabel("customers waiting")
    manager = MODES.get(s["manager"], s["manager"])
    queue_ax.set_title(f"A simulated day — seed {s['seed']}, {s['policy']}, manager {manager}")
    called = [(t, t.called) for t in result.tickets if t.called is not None]
    short = [(t, at) for t, at in called if t.people_ahead <= 2]
    wait_ax.scatter([hours(t.issued) for t, _ in called], [(at - t.issued) / 60 for t, at in called],
                    s=6, color="#aaaaaa", label="every ticket")
    wait_ax.scatter([hours(t.issued) for t, _ in short], [(at - t.issued) / 60 for t, at in short],
                    s=10, color="#d62728", label="≤ 2 ahead at arrival")
    wait_ax.axhline(10, color="#d62728", linewidth=0.8, linestyle="--")
    wait_ax.set_ylabel("wait (min) by arrival")
    wait_ax.legend(loc="upper left", fontsize=8)
    rules = sorted({a.rule for a in result.alerts})
    rows = rules + [f"incident: {k}" for k in KINDS]
    for row, rule in enumerate(rules):
        alert_ax.scatter([hours(a.raised) for a in result.alerts if a.rule == rule], [row] * sum(
            1 for a in result.alerts if a.rule == rule), marker="|", s=80, color=RULE_COLOURS.get(rule, "#333333"))
    for offset, kind in enumerate(KINDS):
        at = [hours(i.at) for i in result.incidents if i.kind == kind]
        alert_ax.scatter(at, [len(rules) + offset] * len(at), marker="x", s=30, color="black")
    alert_ax.set_yticks(range(len(rows)), rows, fontsize=7)
    alert_ax.set_xlabel("time of day (h)")
    alert_ax.set_ylim(-0.5, len(rows) - 0.5)
    fig.tight_layout()
    who = {"alerts": "manager", "walk": "manager-without-alerts", "none": "nomanager"}.get(s["manager"], s["manager"])
    day = folder / f"day-seed{s['seed']}-{s['policy']}-{who}.png"
    fig.savefig(day, dpi=110)
    plt.close(fig)
    return [day]
