"""unstaffed_service: people wait for a service that no open counter serves (nobody will call them)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot, iso
from server.alerts.text import duration, people
from server.config import AlertConfig


@rule("unstaffed_service")
def unstaffed_service(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """During opening hours, customers wait for a service that no open, staffed counter serves (a
    paused one counts as open: it will come back). Warning once the first of them has waited
    ``unstaffed_service_s``, critical at three times that. The action opens a
    closed counter that serves the service, the one that lists it earliest."""
    if not snapshot.serving:
        return []
    staffed = {service_id for c in snapshot.counters if c.state != "closed" and c.staff_id is not None
               for service_id in c.services}
    out = []
    for service_id, (waiting, since) in snapshot.queue_heads.items():
        service = snapshot.services.get(service_id)
        if service is None or service_id in staffed:
            continue
        waited = snapshot.elapsed_s(since)
        limit = settings.unstaffed_service_s
        severity = severity_at(waited, limit, max(limit, 1) * 3)
        if severity is None:
            continue
        d, n = duration(waited), people(waiting)
        name = service.name
        out.append(
            Condition(
                rule="unstaffed_service",
                subject_kind="service",
                subject_id=service.code,
                label=service.code,
                severity=severity,
                message=both(
                    f"{name.get('zh', service.code)}（{service.code}）没有开放的窗口办理，{n['zh']}已等{d['zh']}",
                    f"No open counter serves {name.get('en', service.code)} ({service.code}): {n['en']} "
                    f"waiting, the first for {d['en']}",
                ),
                data={"waiting": waiting, "since": iso(since)},
                action=actions.helping(snapshot, service_id),
            )
        )
    return out
