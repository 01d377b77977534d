"""long_pause: one counter paused longer than its reason allows (complaint #6, per counter)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration, pause_reason
from server.config import AlertConfig

FALLBACK_LIMIT_S = 600


@rule("long_pause")
def long_pause(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A paused counter whose pause has lasted at least ``long_pause_s[reason]``; critical at
    ``critical_after_factor`` times that."""
    out = []
    for counter in snapshot.counters:
        if counter.state != "paused":
            continue
        reason = counter.pause_reason or "other"
        limit = settings.long_pause_s.get(reason, settings.long_pause_s.get("other", FALLBACK_LIMIT_S))
        paused_s = snapshot.elapsed_s(counter.state_since)
        severity = severity_at(paused_s, limit, limit * settings.critical_after_factor)
        if severity is None:
            continue
        d, why, allowed = duration(paused_s), pause_reason(reason), duration(limit)
        out.append(
            Condition(
                rule="long_pause",
                subject_kind="counter",
                subject_id=str(counter.number),
                label=str(counter.number),
                severity=severity,
                message=both(
                    f"{counter.number}号窗口暂停（{why['zh']}）已{d['zh']}，超过{allowed['zh']}",
                    f"Counter {counter.number} paused ({why['en']}) for {d['en']}, over the {allowed['en']} allowed",
                ),
                counter_id=counter.id,
                data={"reason": reason, "paused_s": int(paused_s), "limit_s": limit},
                action=actions.end_pause(counter),
            )
        )
    return out
