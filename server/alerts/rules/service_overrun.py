"""service_overrun: a transaction far past the normal time for its service (complaint #4)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig


@rule("service_overrun")
def service_overrun(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A serving ticket whose service time reached ``service_overrun_factor`` x the normal duration
    of its service (the median of the day's finished ones once there are enough, else its
    ``expected_minutes``); critical at ``service_overrun_critical_factor`` x."""
    out = []
    for counter in snapshot.counters:
        ticket = counter.ticket
        if ticket is None or ticket.status != "serving" or ticket.served_at is None:
            continue
        service = snapshot.services.get(ticket.service_id)
        if service is None:
            continue
        normal = service.normal_service_s
        took = snapshot.elapsed_s(ticket.served_at)
        severity = severity_at(
            took, settings.service_overrun_factor * normal, settings.service_overrun_critical_factor * normal
        )
        if severity is None:
            continue
        d, usual = duration(took), duration(normal)
        out.append(
            Condition(
                rule="service_overrun",
                subject_kind="ticket",
                subject_id=str(ticket.id),
                label=ticket.number,
                severity=severity,
                message=both(
                    f"{counter.number}号窗口 {ticket.number} 已办理{d['zh']}，平常约{usual['zh']}",
                    f"Counter {counter.number}: {ticket.number} has taken {d['en']}, usually about {usual['en']}",
                ),
                counter_id=counter.id,
                ticket_id=ticket.id,
                data={"service_s": int(took), "normal_s": int(normal), "service": service.code},
                action=actions.assist(counter),
            )
        )
    return out
