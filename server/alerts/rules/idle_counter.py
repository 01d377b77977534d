"""idle_counter: someone sits at the counter but no number is called (complaint #5)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot, iso
from server.alerts.text import duration, people
from server.config import AlertConfig


@rule("idle_counter")
def idle_counter(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A staffed counter, open and not paused, with nobody called or served, while at least one
    ticket it may serve waits. The idle time runs from the later of "the counter became free" and
    "the first such ticket started waiting". Warning at ``idle_counter_warning_s``, critical at
    ``idle_counter_critical_s``."""
    out = []
    for counter in snapshot.counters:
        if counter.state != "idle" or counter.staff_id is None:
            continue
        heads = [snapshot.queue_heads[sid] for sid in counter.services if sid in snapshot.queue_heads]
        if not heads:
            continue
        waiting = sum(count for count, _ in heads)
        since = max(counter.state_since, min(first for _, first in heads))
        idle_s = snapshot.elapsed_s(since)
        severity = severity_at(idle_s, settings.idle_counter_warning_s, settings.idle_counter_critical_s)
        if severity is None:
            continue
        d, n = duration(idle_s), people(waiting)
        out.append(
            Condition(
                rule="idle_counter",
                subject_kind="counter",
                subject_id=str(counter.number),
                label=str(counter.number),
                severity=severity,
                message=both(
                    f"{counter.number}号窗口已空闲{d['zh']}，有{n['zh']}在等候",
                    f"Counter {counter.number} has been idle for {d['en']} with {n['en']} waiting",
                ),
                counter_id=counter.id,
                data={"idle_s": int(idle_s), "waiting": waiting, "idle_since": iso(since)},
                action=actions.ask_to_call(counter),
            )
        )
    return out
