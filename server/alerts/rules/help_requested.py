"""help_requested: a teller pressed "request authorization/help" (complaint #4)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig


@rule("help_requested")
def help_requested(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """Raised as soon as a counter with a customer asks for help; critical if nobody has answered
    "on my way" within ``help_critical_s``. It resolves when the manager answers "done" (which
    clears the request) or when the customer's ticket is finished."""
    out = []
    for counter in snapshot.counters:
        if counter.help_requested_at is None or counter.ticket is None:
            continue
        waited = snapshot.elapsed_s(counter.help_requested_at)
        coming = counter.help_responded_at is not None
        severity = "warning" if coming else severity_at(waited, 0, settings.help_critical_s)
        d = duration(waited)
        out.append(
            Condition(
                rule="help_requested",
                subject_kind="counter",
                subject_id=str(counter.number),
                label=str(counter.number),
                severity=severity or "warning",
                message=both(
                    f"{counter.number}号窗口请求授权/协助（{counter.ticket.number}），已等{d['zh']}",
                    f"Counter {counter.number} asks for authorization/help ({counter.ticket.number}), "
                    f"waiting {d['en']}",
                ),
                counter_id=counter.id,
                ticket_id=counter.ticket.id,
                data={"waited_s": int(waited), "reason": counter.help_reason or "authorization",
                      "help_state": "on_my_way" if coming else "waiting"},
                action=actions.assist(counter),
            )
        )
    return out
