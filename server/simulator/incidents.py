"""Complaints and complaint incidents, counted from what happened, never from alerts or their config.

Two measures. *Complaints* are drawn from a customer patience model: each customer has a patience
(server/simulator/world.py ``patience_s``: about ten minutes for one who saw one or two people
ahead, much longer for one who saw a long queue) and complains when their wait passes it.
*Incidents* are complaint kinds #3-#6 of PRODUCT.md as a bank would count them afterwards, each
with its own threshold here (``Thresholds``; the alert rules' settings are never read):

- ``short_queue``: a customer with at most ``max_ahead`` people ahead at arrival waited longer
  than ``short_queue_s`` (10 min) to be called. The incident happens at arrival + 10 min.
- ``idle_counter``: a counter open, staffed and free (neither calling, serving nor paused) while
  customers it may serve were waiting, for longer than ``idle_s`` (3 min) without a break.
- ``paused_ratio``: half or more of the staffed counters paused, while anybody waited, for longer
  than ``paused_s`` (10 min) without a break.
- ``service_overrun``: a transaction (start to finish) longer than ``overrun_factor`` (2) times
  its service's normal time.

Then each incident and each short-queue complaint is matched with the alerts raised before it on
the same subject, which gives recall and lead time, and each alert with the incident or complaint
it foretells (``follow_up``): followed, late (it came after), or not followed. All times are
seconds on one time line (the simulator uses seconds after opening).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("short_queue", "idle_counter", "paused_ratio", "service_overrun")
# The alert rules that warn of each kind of incident, and whose alerts a kind of incident makes true.
WARNED_BY = {
    "short_queue": ("short_queue_long_wait",),
    "idle_counter": ("idle_counter",),
    "paused_ratio": ("paused_ratio",),
    "service_overrun": ("service_overrun", "help_requested"),
}
FORETELLS = {"short_queue_long_wait": "short_queue", "idle_counter": "idle_counter",
             "paused_ratio": "paused_ratio", "service_overrun": "service_overrun"}


def subject_of(kind: str, ident: object) -> str:
    """A subject on the time line, as an alert's kind and id name it: "ticket:<id>",
    "counter:<number>", "service:<code>", or "branch" (one per branch: its id is not needed)."""
    return "branch" if kind == "branch" else f"{kind}:{ident}"


@dataclass(frozen=True)
class TicketRecord:
    id: int
    service: str
    people_ahead: int
    issued: float
    called: float | None = None  # first call
    served: float | None = None  # service started
    finished: float | None = None
    counter: int | None = None  # the counter that served it


@dataclass
class CounterRecord:
    number: int
    services: tuple[str, ...]
    states: list[tuple[float, str]] = field(default_factory=list)  # (since, state), in time order


@dataclass(frozen=True)
class Thresholds:
    """The incidents' own lines, from PRODUCT.md's account of the complaints (not the alert config)."""

    max_ahead: int = 2
    short_queue_s: float = 600.0
    idle_s: float = 180.0
    paused_share: float = 0.5
    paused_s: float = 600.0
    overrun_factor: float = 2.0


@dataclass(frozen=True)
class Incident:
    kind: str
    subject: str  # "ticket:<id>", "counter:<number>" or "branch"
    start: float  # when the situation began (arrival, the counter free with people waiting, ...)
    at: float  # when it became a complaint
    counter: int | None = None  # for a transaction overrun: the counter it ran at
    end: float | None = None  # when the situation ended (None: unknown)


@dataclass(frozen=True)
class AlertRecord:
    rule: str
    subject: str  # same form as Incident.subject
    raised: float
    resolved: float | None = None
    ticket: int | None = None  # the ticket the alert names, whatever its subject
    counter: int | None = None  # the counter the alert names
    # The other situations the card told (one card per situation: a broken promise joins its
    # short-queue card, ...): (rule, subject, first shown), besides its own (rule, subject, raised).
    stories: tuple[tuple[str, str, float], ...] = ()

    def told(self) -> list[AlertRecord]:
        """The card as one record per story it told, each from when it was first shown."""
        return [self, *(AlertRecord(rule, subject, at, self.resolved) for rule, subject, at in self.stories)]


@dataclass(frozen=True)
class Complaint:
    """A customer whose wait passed their patience: they complain at ``at``."""

    ticket: int
    service: str
    people_ahead: int
    issued: float
    at: float
    short_queue: bool  # they had seen at most ``Thresholds.max_ahead`` ahead


def waits(tickets: Iterable[TicketRecord], end: float) -> dict[int, float]:
    """Each ticket's wait: issue to first call (or to ``end`` for one never called)."""
    return {t.id: (t.called if t.called is not None else end) - t.issued for t in tickets}


def normal_service_s(
    tickets: Iterable[TicketRecord], expected_s: dict[str, float], min_samples: int = 5
) -> dict[str, float]:
    """Each service's normal transaction time that day: the median of its finished transactions, or
    the expected time where fewer than ``min_samples`` finished."""
    took: dict[str, list[float]] = {}
    for t in tickets:
        if t.served is not None and t.finished is not None:
            took.setdefault(t.service, []).append(t.finished - t.served)
    return {code: statistics.median(took[code]) if len(took.get(code, [])) >= min_samples else expected
            for code, expected in expected_s.items()}


def count_incidents(
    tickets: list[TicketRecord], counters: list[CounterRecord], normal_s: dict[str, float], end: float,
    limits: Thresholds = Thresholds(),
) -> list[Incident]:
    """Every incident of the day (up to ``end``), in time order."""
    found: list[Incident] = []
    for t in tickets:
        wait = (t.called if t.called is not None else end) - t.issued
        if t.people_ahead <= limits.max_ahead and wait > limits.short_queue_s:
            found.append(Incident("short_queue", f"ticket:{t.id}", t.issued, t.issued + limits.short_queue_s,
                                  end=t.issued + wait))
        if t.served is not None and t.finished is not None and t.service in normal_s:
            line = limits.overrun_factor * normal_s[t.service]
            if t.finished - t.served > line:
                found.append(Incident("service_overrun", f"ticket:{t.id}", t.served, t.served + line, t.counter,
                                      end=t.finished))
    spans: dict[str, list[tuple[float, float]]] = {}
    for t in tickets:
        spans.setdefault(t.service, []).append((t.issued, t.called if t.called is not None else end))
    waiting = {code: _union(service_spans) for code, service_spans in spans.items()}
    for counter in counters:
        free = [span for span, state in _spans(counter.states, end) if state == "idle"]
        eligible = _union(span for code in counter.services for span in waiting.get(code, []))
        for a, b in _intersect(free, eligible):
            if b - a > limits.idle_s:
                found.append(Incident("idle_counter", f"counter:{counter.number}", a, a + limits.idle_s, end=b))
    anybody = _union(span for spans in waiting.values() for span in spans)
    for a, b in _intersect(_paused_stretches(counters, end, limits.paused_share), anybody):
        if b - a > limits.paused_s:
            found.append(Incident("paused_ratio", "branch", a, a + limits.paused_s, end=b))
    return sorted(found, key=lambda i: (i.at, i.kind, i.subject))


def _spans(states: list[tuple[float, str]], end: float) -> list[tuple[tuple[float, float], str]]:
    out = []
    for (since, state), nxt in zip(states, [*states[1:], (end, "")], strict=True):
        if nxt[0] > since:
            out.append(((since, min(nxt[0], end)), state))
    return out


def _union(spans: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _intersect(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The intersection of two sorted lists of disjoint spans, merged where they touch."""
    out, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return _union(out)


def _paused_stretches(counters: list[CounterRecord], end: float, share: float) -> list[tuple[float, float]]:
    """When at least ``share`` of the staffed (not closed) counters were paused."""
    changes = sorted((since, c.number, state) for c in counters for since, state in c.states)
    now: dict[int, str] = {}
    out, start = [], None
    for i, (at, number, state) in enumerate(changes):
        now[number] = state
        if i + 1 < len(changes) and changes[i + 1][0] == at:
            continue  # settle every change at one instant before judging it
        staffed = [s for s in now.values() if s != "closed"]
        holds = bool(staffed) and sum(s == "paused" for s in staffed) >= share * len(staffed)
        if holds and start is None:
            start = at
        elif not holds and start is not None:
            out.append((start, at))
            start = None
    if start is not None and start < end:
        out.append((start, end))
    return out


# --- alerts against incidents ----------------------------------------------------------------------


def match(incidents: list[Incident], alerts: list[AlertRecord]) -> dict[str, Any]:
    """Recall and lead time per kind of incident, and the share of alerts no incident followed.

    An incident was *warned* when an alert of a rule that warns of it (``WARNED_BY``) on the same
    subject was raised between the start of the situation and the incident (for a transaction
    overrun, a help request at its counter during the transaction counts too). Its lead time is
    from the first such alert to the incident. An alert is *false* when no incident of the kind it
    foretells (``FORETELLS``) happened on its subject while it could have: after its situation
    began and no earlier than the alert. (With a manager who acts, an alert followed by no incident
    may be one that prevented it: read the false-alert share of a ``--no-manager`` run.)
    """
    by_subject = alerts_by_subject(alerts)
    per_kind: dict[str, dict[str, Any]] = {k: {"incidents": 0, "warned": 0, "lead_s": []} for k in KINDS}
    for incident in incidents:
        entry = per_kind[incident.kind]
        entry["incidents"] += 1
        first = first_warning(incident, by_subject)
        if first is not None:
            entry["warned"] += 1
            entry["lead_s"].append(incident.at - first.raised)
    foretelling = [a for a in alerts if a.rule in FORETELLS]
    false = [a for a in foretelling if not any(
        i.kind == FORETELLS[a.rule] and i.subject == a.subject and i.start <= a.raised <= i.at for i in incidents)]
    result: dict[str, Any] = {}
    for kind, entry in per_kind.items():
        leads = entry.pop("lead_s")
        entry["recall"] = round(entry["warned"] / entry["incidents"], 4) if entry["incidents"] else None
        entry["median_lead_s"] = round(statistics.median(leads), 1) if leads else None
        result[kind] = entry
    return {
        "per_kind": result,
        "alerts_foretelling": len(foretelling),
        "false_alerts": len(false),
        "false_alert_share": round(len(false) / len(foretelling), 4) if foretelling else None,
    }


def alerts_by_subject(alerts: Iterable[AlertRecord]) -> dict[tuple[str, str], list[AlertRecord]]:
    """The alerts by (rule, subject), for ``first_warning``."""
    by_subject: dict[tuple[str, str], list[AlertRecord]] = {}
    for alert in alerts:
        by_subject.setdefault((alert.rule, alert.subject), []).append(alert)
    return by_subject


def first_warning(incident: Incident, by_subject: dict[tuple[str, str], list[AlertRecord]]) -> AlertRecord | None:
    """The first alert that warned of ``incident``: of a rule that warns of its kind (``WARNED_BY``),
    on its subject, raised between the start of the situation and the incident; None if none did."""
    warned = [a for rule in WARNED_BY[incident.kind] for a in _alerts_for(by_subject, rule, incident)
              if incident.start <= a.raised <= incident.at]
    return min(warned, key=lambda a: a.raised) if warned else None


def _alerts_for(
    by_subject: dict[tuple[str, str], list[AlertRecord]], rule: str, incident: Incident
) -> list[AlertRecord]:
    if rule == "help_requested":
        # A help request is about the counter; the overrun is about the ticket it was serving.
        return by_subject.get((rule, f"counter:{incident.counter}"), []) if incident.counter is not None else []
    return by_subject.get((rule, incident.subject), [])


# --- complaints from the patience model -------------------------------------------------------------


def complaints(
    tickets: Iterable[TicketRecord], patience_s: dict[int, float], end: float, limits: Thresholds = Thresholds()
) -> list[Complaint]:
    """Every customer whose wait (issue to first call, or to ``end`` if never called) passed their
    patience (``patience_s`` by ticket id; a ticket without one never complains), in time order."""
    found = []
    for t in tickets:
        patience = patience_s.get(t.id)
        if patience is None:
            continue
        wait = (t.called if t.called is not None else end) - t.issued
        if wait > patience:
            found.append(Complaint(t.id, t.service, t.people_ahead, t.issued, t.issued + patience,
                                   t.people_ahead <= limits.max_ahead))
    return sorted(found, key=lambda c: (c.at, c.ticket))


def warned_complaints(found: list[Complaint], alerts: list[AlertRecord],
                      rules: tuple[str, ...] = ("short_queue_long_wait", "eta_broken")) -> dict[str, Any]:
    """Recall and lead of the cards against the short-queue complaints: a complaint was warned when
    a card told of its ticket's short-queue risk (``rules``, as the card's own story or one it
    joined) between the ticket's issue and the complaint; the lead is from the first such card."""
    first: dict[int, float] = {}
    for alert in alerts:
        for story in alert.told():
            ticket = _ticket_of(story.subject) if story.rule in rules else None
            if ticket is not None:
                first[ticket] = min(first.get(ticket, story.raised), story.raised)
    short = [c for c in found if c.short_queue]
    leads = [c.at - first[c.ticket] for c in short if c.ticket in first and c.issued <= first[c.ticket] <= c.at]
    missed = [c for c in short if not (c.ticket in first and c.issued <= first[c.ticket] <= c.at)]
    return {
        "complaints": len(short),
        "warned": len(leads),
        "recall": round(len(leads) / len(short), 4) if short else None,
        "median_lead_s": round(statistics.median(leads), 1) if leads else None,
        "lead_s": [round(x, 1) for x in leads],
        # The complaints no card warned of: the customer's patience, and the first card (after the
        # complaint: late) or None (no card at all).
        "missed": [(round(c.at - c.issued, 1), round(first[c.ticket] - c.issued, 1) if c.ticket in first else None)
                   for c in missed],
    }


def _ticket_of(subject: str) -> int | None:
    kind, _, ident = subject.partition(":")
    return int(ident) if kind == "ticket" and ident.isdigit() else None


# --- what each alert foretold ----------------------------------------------------------------------

# What an alert of each rule says will happen: an incident of a kind on its subject, or a complaint
# (of its ticket; by a customer its counter or service could serve, while it is open; by anybody,
# for a branch-wide alert). Rules not listed foretell by their subject (ticket, counter, service,
# branch) a complaint; help requests and ratings are no forecast.
FORETOLD = {
    "short_queue_long_wait": ("incident:short_queue", "complaint:ticket"),
    "eta_broken": ("complaint:ticket",),
    "idle_counter": ("incident:idle_counter",),
    "paused_ratio": ("incident:paused_ratio",),
    "service_overrun": ("incident:service_overrun",),
    "long_pause": ("complaint:counter",),
    "service_level": ("complaint:service",),
    "unstaffed_service": ("complaint:service",),
}
NO_FORECAST = ("help_requested", "low_rating")


def foretold(rule: str, subject: str) -> tuple[str, ...]:
    if rule in NO_FORECAST:
        return ()
    if rule in FORETOLD:
        return FORETOLD[rule]
    return (f"complaint:{subject.partition(':')[0] if ':' in subject else 'branch'}",)


def follow_up(
    alerts: list[AlertRecord], incidents: list[Incident], found: list[Complaint],
    counter_services: dict[int, tuple[str, ...]], end: float,
) -> dict[str, dict[str, int]]:
    """Per rule: alerts raised, and of those *followed* by what they foretell (an incident after its
    situation began and no earlier than the alert; a complaint no earlier than the alert, for a
    counter, service or branch while the alert was open), *late* (the incident or the complaint
    had already happened, its situation still going on), or neither."""
    by_subject: dict[tuple[str, str], list[Incident]] = {}
    for incident in incidents:
        by_subject.setdefault((incident.kind, incident.subject), []).append(incident)
    by_ticket = {c.ticket: c for c in found}
    out: dict[str, dict[str, int]] = {}
    for alert in alerts:
        row = out.setdefault(alert.rule, {"raised": 0, "followed": 0, "late": 0, "not_followed": 0,
                                          "forecast": int(bool(foretold(alert.rule, alert.subject)))})
        row["raised"] += 1
        if not row["forecast"]:
            continue
        verdicts = set()
        until = alert.resolved if alert.resolved is not None else end
        for story in alert.told():
            for kind in foretold(story.rule, story.subject):
                verdicts.add(_one_follow_up(kind, story, until, by_subject, by_ticket, found, counter_services))
        row["followed" if "followed" in verdicts else "late" if "late" in verdicts else "not_followed"] += 1
    return dict(sorted(out.items()))


def _one_follow_up(
    kind: str, alert: AlertRecord, until: float, by_subject: dict[tuple[str, str], list[Incident]],
    by_ticket: dict[int, Complaint], found: list[Complaint], counter_services: dict[int, tuple[str, ...]],
) -> str | None:
    family, _, what = kind.partition(":")
    if family == "incident":
        seen = by_subject.get((what, alert.subject), [])
        if any(i.start <= alert.raised <= i.at for i in seen):
            return "followed"
        if any(i.at < alert.raised <= (i.end if i.end is not None else alert.raised) for i in seen):
            return "late"
        return None
    if what == "ticket":
        ticket = alert.ticket if alert.ticket is not None else _ticket_of(alert.subject)
        complaint = by_ticket.get(ticket) if ticket is not None else None
        if complaint is None:
            return None
        return "followed" if complaint.at >= alert.raised else "late"
    if what == "counter":
        number = alert.counter if alert.counter is not None else _number_of(alert.subject)
        services = counter_services.get(number, ()) if number is not None else ()
        hit = any(c.service in services and alert.raised <= c.at <= until for c in found)
    elif what == "service":
        code = alert.subject.partition(":")[2]
        hit = any(c.service == code and alert.raised <= c.at <= until for c in found)
    else:
        hit = any(alert.raised <= c.at <= until for c in found)
    return "followed" if hit else None


def _number_of(subject: str) -> int | None:
    kind, _, ident = subject.partition(":")
    return int(ident) if kind == "counter" and ident.isdigit() else None


# --- what limits a manager ----------------------------------------------------------------------------


def within_reach(
    tickets: list[TicketRecord], counters: list[CounterRecord], pauses: list[tuple[int, str, float, float | None]],
    incidents: list[Incident], found: list[Complaint], end: float, *, idle_s: float = 60.0,
    endable: tuple[str, ...] = ("break", "other"),
) -> dict[str, dict[str, int]]:
    """Whether a manager could have done anything about each short-queue incident and each complaint:
    while the customer waited (issue to the incident or complaint), was a counter that serves their
    service free for ``idle_s`` or more, or on a pause a manager may end (``endable``)? If not,
    every counter for them was serving or away (lunch, a meeting, a cash run): only more staff would
    have helped. ``pauses``: (counter, reason, start, end). Also: how many transaction overruns
    waited for an authorization (a help request at their counter during them)."""
    spans: dict[int, list[tuple[float, float]]] = {}
    for counter in counters:
        spans[counter.number] = [(a, b) for (a, b), state in _spans(counter.states, end)
                                 if state == "idle" and b - a >= idle_s]
    for number, reason, start, stop in pauses:
        if reason in endable:
            spans.setdefault(number, []).append((start, stop if stop is not None else end))
    serves: dict[str, list[int]] = {}
    for counter in counters:
        for code in counter.services:
            serves.setdefault(code, []).append(counter.number)
    by_id = {t.id: t for t in tickets}

    def reachable(ticket_id: int, until: float) -> bool:
        ticket = by_id[ticket_id]
        return any(a < until and b > ticket.issued and min(b, until) - max(a, ticket.issued) >= 1.0
                   for number in serves.get(ticket.service, []) for a, b in spans.get(number, []))

    short = [i for i in incidents if i.kind == "short_queue"]
    return {
        "short_queue_incidents": {"total": len(short), "within_reach": sum(
            reachable(int(i.subject.split(":")[1]), i.at) for i in short)},
        "complaints": {"total": len(found), "within_reach": sum(reachable(c.ticket, c.at) for c in found)},
    }
