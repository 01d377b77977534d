"""paused_ratio: half or more of the counters stay paused while people wait (complaint #6)."""

from __future__ import annotations

from server.alerts import actions
from server.alerts.rules import Condition, both, rule, severity_at
from server.alerts.snapshot import BranchSnapshot, CounterInfo, TallyOf, iso
from server.alerts.text import duration, people
from server.config import AlertConfig


@rule("paused_ratio")
def paused_ratio(snapshot: BranchSnapshot, settings: AlertConfig) -> list[Condition]:
    """Paused counters / staffed (not closed) counters at or above ``paused_ratio``, continuously for
    ``paused_ratio_after_s``, while at least one ticket waits. "Continuously" is read from the day's
    counter history; the waiting side from the oldest ticket still waiting. Subject: the branch."""
    if not snapshot.waiting:
        return []

    def holds(tally: TallyOf) -> bool:
        staffed = sum(n for state, n in tally.items() if state != "closed")
        return staffed > 0 and tally["paused"] / staffed >= settings.paused_ratio

    since = snapshot.held_since(holds)
    if since is None:
        return []
    since = max(since, min(t.waiting_since for t in snapshot.waiting))
    held = snapshot.elapsed_s(since)
    after = settings.paused_ratio_after_s
    severity = severity_at(held, after, max(after, 1) * settings.critical_after_factor)
    if severity is None:
        return []
    staffed = [c for c in snapshot.counters if c.state != "closed"]
    paused = [c for c in staffed if c.state == "paused"]
    d, n = duration(held), people(len(snapshot.waiting))
    numbers = ", ".join(str(c.number) for c in paused)
    return [
        Condition(
            rule="paused_ratio",
            subject_kind="branch",
            subject_id=snapshot.branch_code,
            label=snapshot.branch_code,
            severity=severity,
            message=both(
                f"{len(staffed)}个在岗窗口中{len(paused)}个暂停（{numbers}号）已{d['zh']}，{n['zh']}在等候",
                f"{len(paused)} of {len(staffed)} staffed counters paused ({numbers}) for {d['en']} "
                f"with {n['en']} waiting",
            ),
            data={"paused": len(paused), "staffed": len(staffed), "held_s": int(held), "since": iso(since)},
            action=_action(snapshot, paused),
        )
    ]


def _action(snapshot: BranchSnapshot, paused: list[CounterInfo]) -> actions.Action:
    """End the longest pause the manager may end; if every pause is one not cut short (lunch, a
    meeting, a cash run), open a closed counter that serves the longest queue; else watch."""
    endable = [c for c in paused if (c.pause_reason or "other") in actions.ENDABLE_PAUSES]
    if endable:
        return actions.end_pause(min(endable, key=lambda c: (c.state_since, c.number)))
    longest = max(snapshot.queues.items(), key=lambda item: (len(item[1]), -item[0]), default=None)
    if longest is not None:
        closed = [c for c in snapshot.counters if c.state == "closed" and longest[0] in c.services]
        if closed:
            return actions.open_counter(min(closed, key=lambda c: (c.services.index(longest[0]), c.number)))
    return actions.watch(both("暂停的窗口均为午餐、会议或清机", "every pause is lunch, a meeting or a cash run"))
