"""One card per situation. The rules find conditions one by one; a lobby manager follows perhaps one
card every few minutes, so conditions that tell one story become one card with one action,
escalating in place (PRODUCT.md, "What makes an alert worth showing"):

- a ticket's broken estimate joins its short-queue card (the same customer), and is no card of its
  own: alone, with the customer not at risk of the ten-minute line, nothing needs doing;
- a free counter and the at-risk customers it could call are one story: whichever card is already
  open keeps it (so a card escalates in place rather than being replaced), else the counter's card
  does, naming the most urgent customer; its action asks that counter to call;
- customers at risk in a queue no open counter serves are that service's unstaffed card;
- a transaction overrun at a counter that has asked for help is that help request;
- long pauses, while too many counters are paused, are the branch's paused-counters card.

Pure: conditions and the snapshot in, conditions out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from server.alerts import actions
from server.alerts.rules import SEVERITY_RANK, Condition
from server.alerts.snapshot import BranchSnapshot


def compose(conditions: list[Condition], snapshot: BranchSnapshot) -> list[Condition]:
    """The cards for ``conditions`` (see the module docstring); the order of the rest is kept."""
    gone: set[tuple[str, str, str]] = set()
    cards = {c.key: c for c in conditions}

    def absorb(into: Condition, part: Condition, **changes: Any) -> Condition:
        gone.add(part.key)
        merged = _merge(into, part, **changes)
        cards[into.key] = merged
        return merged

    short = {c.ticket_id: c for c in conditions if c.rule == "short_queue_long_wait"}
    for condition in conditions:
        if condition.rule != "eta_broken":
            continue
        if condition.ticket_id in short:
            short[condition.ticket_id] = absorb(short[condition.ticket_id], condition)
        else:
            gone.add(condition.key)  # a broken promise alone, the customer not at risk: no card

    for condition in conditions:
        if condition.rule != "idle_counter" or condition.counter_id is None:
            continue
        counter = snapshot.counters_by_id[condition.counter_id]
        at_risk = [card for card in short.values() if card.key not in gone
                   and _service_of(snapshot, card) in counter.services]
        if not at_risk:
            continue
        urgent = min(at_risk, key=lambda c: (-SEVERITY_RANK[c.severity], c.lead_time_s or 0))
        service_id = _service_of(snapshot, urgent)
        action = actions.calling(snapshot, counter, service_id) if service_id is not None else condition.action
        if urgent.key in snapshot.open_alert_keys and condition.key not in snapshot.open_alert_keys:
            keeper = absorb(cards[urgent.key], condition, action=action, counter_id=counter.id)
            for other in at_risk:
                if other is not urgent:
                    absorb(keeper, other)
        else:
            keeper = cards[condition.key]
            for part in sorted(at_risk, key=lambda c: c is not urgent):
                keeper = absorb(keeper, part, action=action, ticket_id=urgent.ticket_id,
                                lead_time_s=urgent.lead_time_s)

    # Nobody serves the service: its at-risk customers are that story (the action opens a counter).
    for condition in conditions:
        if condition.rule != "unstaffed_service":
            continue
        codes = {service_id: service.code for service_id, service in snapshot.services.items()}
        for card in list(short.values()):
            if card.key not in gone and codes.get(_service_of(snapshot, card) or 0) == condition.subject_id:
                absorb(cards[condition.key], card)

    helps = {c.counter_id: c for c in conditions if c.rule == "help_requested"}
    for condition in conditions:
        if condition.rule == "service_overrun" and condition.counter_id in helps:
            absorb(cards[helps[condition.counter_id].key], condition)

    ratio = next((c for c in conditions if c.rule == "paused_ratio"), None)
    if ratio is not None:
        for condition in conditions:
            if condition.rule == "long_pause":
                absorb(cards[ratio.key], condition)

    return [cards[c.key] for c in conditions if c.key not in gone]


def _service_of(snapshot: BranchSnapshot, card: Condition) -> int | None:
    ticket = snapshot.waiting_by_id.get(card.ticket_id or 0)
    return ticket.service_id if ticket is not None else None


def _merge(into: Condition, part: Condition, **changes: Any) -> Condition:
    """``into`` telling ``part`` too: the higher severity, both messages, ``part``'s rule and
    subject kept in the data (``joined``)."""
    severity = into.severity if SEVERITY_RANK[into.severity] >= SEVERITY_RANK[part.severity] else part.severity
    message = {lang: text + ("；" if lang == "zh" else "; ") + part.message.get(lang, "")
               for lang, text in into.message.items()}
    joined = [*into.data.get("joined", []), {
        "rule": part.rule, "subject": part.label, "subject_kind": part.subject_kind, "subject_id": part.subject_id,
        **{k: v for k, v in part.data.items() if k != "joined"}}]
    merged = replace(into, severity=severity, message=message, data={**into.data, "joined": joined})
    if merged.ticket_id is None and part.ticket_id is not None:
        merged = replace(merged, ticket_id=part.ticket_id, lead_time_s=part.lead_time_s)
    if merged.counter_id is None and part.counter_id is not None:
        merged = replace(merged, counter_id=part.counter_id)
    return replace(merged, **changes) if changes else merged
