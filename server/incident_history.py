"""The complaint incidents of a real branch day (issue 18): the situations PRODUCT.md's complaint kinds
3 to 6 describe, counted from the day's history exactly as the simulator counts them
(server/simulator/incidents.py ``count_incidents``, with its own thresholds, never the alert config):

- ``short_queue``: a customer who saw at most two people ahead waited over 10 minutes to be called;
- ``idle_counter``: a counter open and free over 3 minutes while customers it serves waited;
- ``paused_ratio``: half or more of the staffed counters paused over 10 minutes while anybody waited;
- ``service_overrun``: a transaction over twice its service's normal time that day.

Each incident says whether an alert warned of it (a card of a rule that warns of its kind, on its
subject, raised between the start of the situation and the incident) and, in the range report
(server/range_report.py), whether a customer complained of it. Pure: it takes the rows the daily
report is made of (server/reports.py) and returns plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from server.simulator.incidents import (
    KINDS,
    AlertRecord,
    CounterRecord,
    Incident,
    TicketRecord,
    alerts_by_subject,
    count_incidents,
    first_warning,
    normal_service_s,
)

if TYPE_CHECKING:
    from server.reports import AlertRow, CounterRow, CounterStart, EventRow, ReportDay, TicketRow, Visit

# The complaint a customer makes of each kind of incident (server/vocabulary.py COMPLAINT_KINDS).
COMPLAINT_OF = {"short_queue": "short_queue_wait", "idle_counter": "idle_counter",
                "paused_ratio": "counters_paused", "service_overrun": "idle_during_service"}
# Customers complain of what has just happened, often once it is over (a wait, an idle counter): a
# complaint recorded this long after the situation ended is still about it.
COMPLAINT_WINDOW = timedelta(minutes=30)
# A ticket whose people ahead are unknown is never a short-queue incident.
_UNKNOWN_AHEAD = 10**6


def day_incidents(
    day: ReportDay, *, tickets: Sequence[TicketRow], visits: Sequence[Visit], counters: Sequence[CounterRow],
    counter_events: Sequence[EventRow], counters_at_start: dict[int, CounterStart] | None,
    alerts: Sequence[AlertRow], expected_s: dict[str, float],
) -> list[dict[str, Any]]:
    """Every incident of ``day`` up to its end (or now), in time order, as plain data: kind, when the
    situation began (``start``), when it became an incident (``at``), when it ended (``end``; None
    while it goes on), the ticket or counter it concerns, and the first card that warned of it."""
    start, until = day.start, day.until

    def sec(moment: datetime | None) -> float | None:
        return None if moment is None else (moment - start).total_seconds()

    def when(seconds: float | None) -> str | None:
        return None if seconds is None else (start + timedelta(seconds=seconds)).isoformat()

    end = sec(until) or 0.0
    # The wait that counts is the first stay in the queue: a customer transferred afterwards, or a
    # no-show who came back, has already had (or not had) the wait they complain of.
    first_stay: dict[int, Visit] = {}
    for visit in visits:
        first_stay.setdefault(visit.ticket_id, visit)
    records = []
    for t in tickets:
        stay = first_stay.get(t.id)
        called = stay.left_at if stay is not None and stay.ended == "called" else t.called_at
        ahead = t.people_ahead if t.people_ahead is not None else _UNKNOWN_AHEAD
        records.append(TicketRecord(t.id, stay.service if stay is not None else t.issued_service, ahead,
                                    sec(t.issued_at) or 0.0, sec(called), sec(t.served_at), sec(t.finished_at),
                                    t.counter))
    at_start = counters_at_start or {}
    histories = {c.id: CounterRecord(c.number, c.services,
                                     [(0.0, at_start[c.id].state if c.id in at_start else "closed")])
                 for c in counters}
    for event in counter_events:
        if event.entity == "counter" and event.entity_id in histories and event.at <= until:
            histories[event.entity_id].states.append((sec(event.at) or 0.0, event.to_state))
    normal = normal_service_s(records, expected_s)
    found = count_incidents(records, list(histories.values()), normal, end)
    # A card tells every story it took in (server/alerts/stories.py: a customer at risk joins the
    # card of the counter free to call them, ...), each from when it was first shown, as the
    # simulator counts them.
    cards = [AlertRecord(a.rule, a.subject or "", sec(a.raised_at) or 0.0, sec(a.resolved_at), a.ticket_id, a.counter,
                         stories=tuple((rule, subject, sec(at) or 0.0) for rule, subject, at in a.told))
             for a in alerts]
    by_subject = alerts_by_subject(story for card in cards for story in card.told())
    numbers = {t.id: t.number for t in tickets}
    return [_view(incident, first_warning(incident, by_subject), numbers, when, end) for incident in found]


def _view(incident: Incident, warning: AlertRecord | None, numbers: dict[int, str], when: Any,
          end: float) -> dict[str, Any]:
    kind, _, ident = incident.subject.partition(":")
    ticket_id = int(ident) if kind == "ticket" else None
    counter = int(ident) if kind == "counter" else incident.counter
    return {
        "kind": incident.kind,
        "start": when(incident.start),
        "at": when(incident.at),
        # A situation still going on at the end of the period has no end yet.
        "end": when(incident.end) if incident.end is not None and incident.end < end else None,
        "ticket": {"id": ticket_id, "number": numbers.get(ticket_id, "")} if ticket_id is not None else None,
        "counter": counter,
        "warned": warning is not None,
        "warned_by": None if warning is None else {"rule": warning.rule,
                                                   "lead_s": int(incident.at - warning.raised)},
    }


def incident_counts(incidents: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Incidents per kind (every kind, zeros included)."""
    return {kind: sum(1 for i in incidents if i["kind"] == kind) for kind in KINDS}


def complaint_about(incident: dict[str, Any], complaints: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first recorded complaint about ``incident``: recorded from the start of its situation to
    COMPLAINT_WINDOW after its end, of the kind the incident makes (or "other": the recorder did
    not sort it), naming its ticket or its counter, or naming neither. A complaint naming another
    ticket or counter is another customer's. None when nobody complained of it."""
    begun = datetime.fromisoformat(incident["start"])
    over = datetime.fromisoformat(incident["end"]) if incident["end"] else None
    kind = COMPLAINT_OF[incident["kind"]]
    ticket = incident["ticket"]["id"] if incident["ticket"] else None
    for complaint in complaints:
        at = datetime.fromisoformat(complaint["recorded_at"])
        if at < begun or (over is not None and at > over + COMPLAINT_WINDOW):
            continue
        if complaint["kind"] not in (kind, "other"):
            continue
        named_ticket = complaint["ticket"]["id"] if complaint["ticket"] else None
        named_counter = complaint["counter"]
        if (ticket is not None and named_ticket == ticket) or (
                named_counter is not None and named_counter == incident["counter"]):
            return complaint
        if named_ticket is None and named_counter is None:
            return complaint
    return None
