"""short_queue_long_wait: one or two ahead, yet a long wait (complaint #3).

In a full hall people wait an hour and rarely complain; with one or two ahead, complaints rise
sharply after ten minutes. The alert is predictive, so the manager can still act — and only
predictive: it warns when the projected wait crosses the line, from the counters actually staffed
for the service and when each is likely to be free, so a counter about to come free holds it back.
"""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import CRITICAL, WARNING, Condition, both, rule
from server.alerts.snapshot import BranchSnapshot
from server.alerts.text import duration
from server.config import AlertConfig

# An open warning stays while the projection is still this close to the line: a projection that
# wobbles around it is one card, not a new one each time it crosses.
KEEP_SHARE = 0.85


@rule("short_queue_long_wait")
def short_queue_long_wait(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """A waiting ticket that had at most ``short_queue_max_ahead`` people ahead at issue. Warning
    when its projected wait (elapsed + :meth:`~server.alerts.snapshot.BranchSnapshot.projected_wait_s`,
    or, with no staffed counter for it, the estimate as if one opened now) reaches
    ``short_queue_complaint_s``; an open warning stays while the projection is within 85% of the
    line; critical when the elapsed wait reaches the line. The lead time (line minus elapsed) is kept
    with it; the action names who can call the customer."""
    line = settings.short_queue_complaint_s
    out = []
    for ticket in snapshot.waiting:
        if ticket.people_ahead > settings.short_queue_max_ahead:
            continue
        elapsed = snapshot.elapsed_s(ticket.issued_at)
        staffed = snapshot.projected_wait_s(ticket)
        projected = staffed if staffed is not None else float(snapshot.remaining_wait_s(ticket))
        # An open warning stays while the projection is still close to the line.
        crossing = line * (KEEP_SHARE if ("short_queue_long_wait", "ticket", str(ticket.id)) in
                           snapshot.open_alert_keys else 1.0)
        if elapsed >= line:
            severity = CRITICAL
        elif elapsed + projected >= crossing:
            severity = WARNING
        else:
            continue
        waited, limit = duration(elapsed), duration(line)
        left = duration(projected)
        more = both(f"预计还需{left['zh']}", f"about {left['en']} to go")
        if staffed is None:
            more = both(f"没有在岗窗口可办理，开窗后约{left['zh']}", f"no staffed counter serves it (about "
                        f"{left['en']} once one opens)")
        out.append(
            Condition(
                rule="short_queue_long_wait",
                subject_kind="ticket",
                subject_id=str(ticket.id),
                label=ticket.number,
                severity=severity,
                message=both(
                    f"{ticket.number}（取号时前面{ticket.people_ahead}人）已等候{waited['zh']}，"
                    f"{more['zh']}；{limit['zh']}即可能投诉",
                    f"{ticket.number} (only {ticket.people_ahead} ahead at issue) has waited {waited['en']}, "
                    f"{more['en']}; complaints start at {limit['en']}",
                ),
                ticket_id=ticket.id,
                lead_time_s=max(0, round(line - elapsed)),
                data={"elapsed_s": int(elapsed), "remaining_s": round(projected), "staffed": staffed is not None,
                      "people_ahead": ticket.people_ahead},
                action=actions.helping(snapshot, ticket.service_id, ticket),
            )
        )
    return out
