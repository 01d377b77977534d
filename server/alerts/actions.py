"""What the lobby manager should do about an alert, and where: every card carries one action.

Pure: the snapshot in, plain data out. An action names its kind (server/vocabulary.py
ACTION_KINDS), the counter and the teller sitting there, the customer concerned, and the
instruction that does it from the card (``POST /counters/<n>/instruct``), if one does; its text is
in every language. Who can help a service's customers, best first: a free counter that serves it
(it only has to call), a counter on a pause the manager may end (a break or other: lunch, meetings
and cash runs are not cut short), the counter that will free up first (it takes the customer next),
a closed counter that serves it (somebody must open it); otherwise there is nothing to do but watch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.alerts.snapshot import BranchSnapshot, CounterInfo, WaitingTicket
from server.alerts.text import both

# Pauses the manager may ask a teller to end: lunch, meetings and cash runs are not cut short.
ENDABLE_PAUSES = frozenset({"break", "other"})


@dataclass(frozen=True)
class Action:
    kind: str  # ask_to_call | end_pause | open_counter | serve_ticket | assist | follow_up | watch
    messages: dict[str, str]
    counter: CounterInfo | None = None
    ticket: WaitingTicket | None = None
    instruction: str | None = None  # the instruction kind that carries it out, if one does

    def as_dict(self, languages: tuple[str, ...] = ("zh", "en")) -> dict[str, Any]:
        """The alert's ``action`` as the API shows it."""
        return {
            "kind": self.kind,
            "counter": self.counter.number if self.counter is not None else None,
            "teller": self.counter.staff_name if self.counter is not None else None,
            "ticket": {"id": self.ticket.id, "number": self.ticket.number} if self.ticket is not None else None,
            "instruction": self.instruction,
            "text": self.messages.get(languages[0], ""),
            "messages": self.messages,
        }


def _who(counter: CounterInfo) -> dict[str, str]:
    name = counter.staff_name
    return both(f"{counter.number}号窗口" + (f"（{name}）" if name else ""),
                f"counter {counter.number}" + (f" ({name})" if name else ""))


def ask_to_call(counter: CounterInfo, ticket: WaitingTicket | None = None) -> Action:
    """The counter is free: it only has to call — a particular customer (``ticket``, the first of
    their service, so nobody who came earlier for the same thing is passed) when its own order
    would call another service first."""
    who = _who(counter)
    if ticket is not None:
        return Action("serve_ticket", both(f"请{who['zh']}叫{ticket.number}",
                                           f"Ask {who['en']} to call {ticket.number}"), counter, ticket, "serve_ticket")
    return Action("ask_to_call", both(f"请{who['zh']}叫号", f"Ask {who['en']} to call the next customer"),
                  counter, None, "call_next")


def end_pause(counter: CounterInfo) -> Action:
    who = _who(counter)
    return Action("end_pause", both(f"请{who['zh']}结束暂停", f"Ask {who['en']} to end the pause"), counter, None,
                  "end_pause")


def take_next(counter: CounterInfo, ticket: WaitingTicket) -> Action:
    """The counter frees up first: it takes this customer next."""
    who = _who(counter)
    return Action("serve_ticket", both(f"请{who['zh']}办完后接待{ticket.number}",
                                       f"Ask {who['en']} to take {ticket.number} next"), counter, ticket,
                  "serve_ticket")


def open_counter(counter: CounterInfo, ticket: WaitingTicket | None = None) -> Action:
    return Action("open_counter", both(f"安排人员开启{counter.number}号窗口", f"Have counter {counter.number} opened"),
                  counter, ticket, None)


def assist(counter: CounterInfo) -> Action:
    who = _who(counter)
    return Action("assist", both(f"前往{who['zh']}协助", f"Go and assist at {who['en']}"), counter, None, None)


def follow_up(number: str, counter: CounterInfo | None) -> Action:
    """A customer left unhappy: speak to them (and to the counter that served them)."""
    return Action("follow_up", both(f"回访{number}号客户", f"Follow up with customer {number}"), counter, None, None)


def watch(text: dict[str, str] | None = None) -> Action:
    return Action("watch", text or both("留意情况", "Keep an eye on it"))


def free_counters(snapshot: BranchSnapshot, service_id: int) -> list[CounterInfo]:
    """Staffed counters, free (idle), that may serve the service, those listing it earliest first."""
    return sorted((c for c in snapshot.counters
                   if c.state == "idle" and c.staff_id is not None and service_id in c.services),
                  key=lambda c: (c.services.index(service_id), c.number))


def next_service(snapshot: BranchSnapshot, counter: CounterInfo) -> int | None:
    """The service the counter's own order calls next: the first of its list with customers."""
    return next((service_id for service_id in counter.services if snapshot.queues.get(service_id)), None)


def calling(snapshot: BranchSnapshot, counter: CounterInfo, service_id: int) -> Action:
    """Ask a free counter to call for ``service_id``: plainly if that is what it calls next, else
    the first customer of that service by name."""
    if next_service(snapshot, counter) == service_id:
        return ask_to_call(counter)
    return ask_to_call(counter, snapshot.queues[service_id][0])


def helping(snapshot: BranchSnapshot, service_id: int, ticket: WaitingTicket | None = None) -> Action:
    """Who can help the customers of a service (``ticket``: the one at risk), best first (see the
    module's docstring). A counter is asked for the first customer of the service, never to pass
    someone who came earlier for the same thing."""
    free = free_counters(snapshot, service_id)
    if free and snapshot.queues.get(service_id):
        return calling(snapshot, free[0], service_id)
    paused = sorted((c for c in snapshot.counters if c.state == "paused" and service_id in c.services
                     and (c.pause_reason or "other") in ENDABLE_PAUSES), key=lambda c: (c.state_since, c.number))
    if paused:
        return end_pause(paused[0])
    busy = [c for c in snapshot.counters
            if c.state in ("calling", "serving") and c.staff_id is not None and service_id in c.services]
    if busy and snapshot.queues.get(service_id):
        return take_next(min(busy, key=lambda c: (snapshot.frees_at(c), c.number)), snapshot.queues[service_id][0])
    closed = sorted((c for c in snapshot.counters if c.state == "closed" and service_id in c.services),
                    key=lambda c: (c.services.index(service_id), c.number))
    if closed:
        return open_counter(closed[0], ticket)
    if busy:
        return watch(both("所有可办理窗口均在办理中", "every counter that serves it is busy"))
    return watch(both("没有其他可办理此业务的窗口", "no other counter serves it"))
