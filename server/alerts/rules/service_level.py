"""service_level: a new customer of a service would wait longer than its target."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig

KEEP_SHARE = 0.85  # an open card stays while the estimate is this close to the target


@rule("service_level")
def service_level(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """The estimated wait for a ticket of the service issued now exceeds its target wait (per
    service in config, ``target_wait_minutes``); critical at ``service_level_critical_factor`` x the
    target; an open card stays while the estimate is within 85% of the target. Only when the
    manager can add a counter for it — end a break at one that serves it, or open a closed one —
    and none that serves it is free (it is about to call): with every such counter busy, at lunch,
    in a meeting or on a cash run, the card would say nothing anyone can act on (the simulated
    days: 85 such cards a day, 11% followed by what they foretold). The message suggests the closed
    or paused counters that could serve it, those that list it first before the others."""
    out = []
    for service in snapshot.services.values():
        estimate = snapshot.new_ticket_wait_s(service.id)
        target = service.target_wait_s
        if ("service_level", "service", service.code) in snapshot.open_alert_keys:
            target_to_cross = target * KEEP_SHARE
        else:
            target_to_cross = target + 1e-9
        severity = severity_at(estimate, target_to_cross, target * settings.service_level_critical_factor)
        if severity is None or actions.free_counters(snapshot, service.id):
            # A staffed counter that serves it is free: it will call (idle_counter says so if not).
            continue
        action = _more_capacity(snapshot, service.id)
        if action is None:
            continue
        spare = sorted(
            (c for c in snapshot.counters if c.state in ("closed", "paused") and service.id in c.services),
            key=lambda c: (c.services.index(service.id), c.state != "paused", c.number),
        )
        numbers = [c.number for c in spare]
        if numbers:
            listed = "、".join(str(n) for n in numbers)
            hint = both(f"可开启或恢复{listed}号窗口", "open or resume counter " + ", ".join(map(str, numbers)))
        else:
            hint = both("没有其他可办理此业务的窗口", "no other counter serves it")
        d, aim = duration(estimate), duration(target)
        name = service.name
        out.append(
            Condition(
                rule="service_level",
                subject_kind="service",
                subject_id=service.code,
                label=service.code,
                severity=severity,
                message=both(
                    f"{name.get('zh', service.code)}（{service.code}）新取号预计等候{d['zh']}，"
                    f"目标{aim['zh']}；{hint['zh']}",
                    f"{name.get('en', service.code)} ({service.code}): a new ticket would wait about {d['en']}, "
                    f"target {aim['en']}; {hint['en']}",
                ),
                data={"estimate_s": estimate, "target_s": target, "suggested_counters": numbers},
                action=action,
            )
        )
    return out


def _more_capacity(snapshot: BranchSnapshot, service_id: int) -> actions.Action | None:
    """Another counter for the service: end the oldest break at one that serves it, else open the
    closed one that lists it earliest; None when neither can be done."""
    breaks = [c for c in snapshot.counters if c.state == "paused" and service_id in c.services
              and (c.pause_reason or "other") in actions.ENDABLE_PAUSES]
    if breaks:
        return actions.end_pause(min(breaks, key=lambda c: (c.state_since, c.number)))
    closed = [c for c in snapshot.counters if c.state == "closed" and service_id in c.services]
    if closed:
        return actions.open_counter(min(closed, key=lambda c: (c.services.index(service_id), c.number)))
    return None
