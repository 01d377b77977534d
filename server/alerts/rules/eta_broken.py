"""eta_broken: a customer has waited well past the estimate we gave them at issue."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig


@rule("eta_broken")
def eta_broken(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A waiting ticket of a short queue (at most ``short_queue_max_ahead`` ahead at issue) whose
    elapsed wait exceeds its promised wait by more than the margin: the larger of ``promised x
    (eta_broken_factor - 1)`` and ``eta_broken_min_s``. Critical when the excess reaches
    ``critical_after_factor`` margins. Only short queues: in a full hall nearly every estimate
    breaks and nobody complains of it (the simulator's days: 57% of all alerts, no incident), and
    a short-queue customer's broken promise joins their short-queue card (server/alerts/stories.py)."""
    out = []
    for ticket in snapshot.waiting:
        if ticket.people_ahead > settings.short_queue_max_ahead:
            continue
        promised = ticket.promised_wait_s
        margin = max(promised * (settings.eta_broken_factor - 1), settings.eta_broken_min_s, 1)
        excess = snapshot.elapsed_s(ticket.issued_at) - promised
        severity = severity_at(excess, margin + 1e-9, margin * settings.critical_after_factor)
        if severity is None:
            continue
        said, over = duration(promised), duration(excess)
        out.append(
            Condition(
                rule="eta_broken",
                subject_kind="ticket",
                subject_id=str(ticket.id),
                label=ticket.number,
                severity=severity,
                message=both(
                    f"{ticket.number} 取号时告知约等{said['zh']}，现已超出{over['zh']}",
                    f"{ticket.number} was told about {said['en']} and is now {over['en']} past it",
                ),
                ticket_id=ticket.id,
                data={"promised_s": promised, "excess_s": int(excess)},
                action=actions.helping(snapshot, ticket.service_id, ticket),
            )
        )
    return out
