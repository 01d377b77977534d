"""short_queue_long_wait: one or two ahead, yet a long wait (complaint #3).

In a full hall people wait an hour and rarely complain; with one or two ahead, complaints rise
sharply after ten minutes. The alert is predictive, so the manager can still act.
"""

from __future__ import annotations

from server.alerts.rules import CRITICAL, WARNING, Condition, both, rule
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig


@rule("short_queue_long_wait")
def short_queue_long_wait(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A waiting ticket that had at most ``short_queue_max_ahead`` people ahead at issue. Warning when
    its projected wait (elapsed + live estimate of the rest) reaches ``short_queue_complaint_s``, or
    its elapsed wait reaches ``short_queue_early_share`` (60%) of it, whichever comes first; critical
    when the elapsed wait reaches the line. The lead time (line minus elapsed) is kept with it."""
    line = settings.short_queue_complaint_s
    out = []
    for ticket in snapshot.waiting:
        if ticket.people_ahead > settings.short_queue_max_ahead:
            continue
        elapsed = snapshot.elapsed_s(ticket.issued_at)
        remaining = snapshot.remaining_wait_s(ticket)
        if elapsed >= line:
            severity = CRITICAL
        elif elapsed + remaining >= line or elapsed >= settings.short_queue_early_share * line:
            severity = WARNING
        else:
            continue
        waited, more, limit = duration(elapsed), duration(remaining), duration(line)
        out.append(
            Condition(
                rule="short_queue_long_wait",
                subject_kind="ticket",
                subject_id=str(ticket.id),
                label=ticket.number,
                severity=severity,
                message=both(
                    f"{ticket.number}（取号时前面{ticket.people_ahead}人）已等候{waited['zh']}，"
                    f"预计还需{more['zh']}；{limit['zh']}即可能投诉",
                    f"{ticket.number} (only {ticket.people_ahead} ahead at issue) has waited {waited['en']}, "
                    f"about {more['en']} to go; complaints start at {limit['en']}",
                ),
                ticket_id=ticket.id,
                lead_time_s=max(0, round(line - elapsed)),
                data={"elapsed_s": int(elapsed), "remaining_s": remaining, "people_ahead": ticket.people_ahead},
            )
        )
    return out
