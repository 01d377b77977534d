"""The state machines of tickets and counters, as plain data.

Nothing here knows about Flask or SQL. The service layer asks :func:`counter_step` whether an action
is allowed in the counter's current state and what state follows; :func:`replay` folds an event
history back into states, which is how tests prove the event log agrees with the tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from server import vocabulary


# The words and their labels are server/vocabulary.py's; the members are spelt out here so that the
# type checker knows them, and checked against the vocabulary when this module loads (a state
# needs its transitions below anyway, so a new one is never only a new word).
class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    HELD = "held"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class CounterState(StrEnum):
    CLOSED = "closed"
    IDLE = "idle"
    CALLING = "calling"
    SERVING = "serving"
    PAUSED = "paused"


class Outcome(StrEnum):
    DONE = "done"
    REDO = "redo"
    ERROR = "error"


vocabulary.TICKET_STATUSES.check_enum(TicketStatus)
vocabulary.COUNTER_STATES.check_enum(CounterState)
vocabulary.OUTCOMES.check_enum(Outcome)


FINISHED = frozenset({TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED})

C = CounterState
# action -> (states it may start from, state it leads to; None = unchanged)
COUNTER_ACTIONS: dict[str, tuple[frozenset[CounterState], CounterState | None]] = {
    "open": (frozenset({C.CLOSED}), C.IDLE),
    "call_next": (frozenset({C.IDLE}), C.CALLING),
    "call": (frozenset({C.IDLE}), C.CALLING),  # a chosen ticket
    "recall": (frozenset({C.CALLING}), None),
    "start": (frozenset({C.CALLING}), C.SERVING),
    "complete": (frozenset({C.SERVING}), C.IDLE),
    "no_show": (frozenset({C.CALLING}), C.IDLE),
    "transfer": (frozenset({C.CALLING, C.SERVING}), C.IDLE),
    "hold": (frozenset({C.CALLING, C.SERVING}), C.IDLE),
    # Undoing the counter's last complete or no-show (a wrong key) puts it back where it was.
    "undo_complete": (frozenset({C.IDLE}), C.SERVING),
    "undo_no_show": (frozenset({C.IDLE}), C.CALLING),
    "pause": (frozenset({C.IDLE}), C.PAUSED),
    "resume": (frozenset({C.PAUSED}), C.IDLE),
    "request_help": (frozenset({C.CALLING, C.SERVING}), None),
    "close": (frozenset({C.IDLE, C.PAUSED}), C.CLOSED),
}

T = TicketStatus
# ticket transitions the counter actions cause: action -> (from, to)
TICKET_ACTIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus | None]] = {
    "issue": (frozenset(), T.WAITING),
    "call": (frozenset({T.WAITING, T.HELD}), T.CALLED),
    "recall": (frozenset({T.CALLED}), T.CALLED),
    "start": (frozenset({T.CALLED}), T.SERVING),
    "complete": (frozenset({T.SERVING}), T.DONE),
    "no_show": (frozenset({T.CALLED}), T.NO_SHOW),
    "transfer": (frozenset({T.CALLED, T.SERVING}), T.WAITING),
    "hold": (frozenset({T.CALLED, T.SERVING}), T.HELD),
    "return": (frozenset({T.NO_SHOW}), T.WAITING),  # a no-show who came back
    "undo_complete": (frozenset({T.DONE}), T.SERVING),
    "undo_no_show": (frozenset({T.NO_SHOW}), T.CALLED),
    "request_help": (frozenset({T.CALLED, T.SERVING}), None),
    "cancel": (frozenset({T.WAITING, T.HELD}), T.CANCELLED),
    "rate": (frozenset({T.DONE}), T.DONE),
}


class InvalidTransition(Exception):
    """An action that the current state does not allow."""

    def __init__(self, subject: str, action: str, state: str) -> None:
        self.subject, self.action, self.state = subject, action, state
        super().__init__(f"cannot {action.replace('_', ' ')}: the {subject} is {state.replace('_', ' ')}")


def counter_step(state: CounterState, action: str) -> CounterState:
    """The counter's state after ``action``, or :class:`InvalidTransition`."""
    allowed, target = COUNTER_ACTIONS[action]
    if state not in allowed:
        raise InvalidTransition("counter", action, state)
    return state if target is None else target


def ticket_step(status: TicketStatus | None, action: str) -> TicketStatus:
    """The ticket's status after ``action``, or :class:`InvalidTransition`."""
    allowed, target = TICKET_ACTIONS[action]
    if action == "issue":
        if status is not None or target is None:
            raise InvalidTransition("ticket", action, status or "unknown")
        return target
    if status is None or status not in allowed:
        raise InvalidTransition("ticket", action, status or "unknown")
    return status if target is None else target


@dataclass(frozen=True)
class LoggedChange:
    """One row of the event log, reduced to what replay needs."""

    entity: str  # "ticket" | "counter"
    entity_id: int
    action: str
    from_state: str | None
    to_state: str


class BrokenHistory(Exception):
    """An event whose from-state is not the state the previous event left."""


def replay(changes: Iterable[LoggedChange]) -> dict[tuple[str, int], str]:
    """Fold an ordered event history into the current state of every entity in it.

    Raises :class:`BrokenHistory` if an event does not start where the previous one ended, so a
    replay both rebuilds the states and checks that the log is a consistent chain.
    """
    states: dict[tuple[str, int], str] = {}
    for change in changes:
        key = (change.entity, change.entity_id)
        before = states.get(key, CounterState.CLOSED if change.entity == "counter" else None)
        if change.from_state != before:
            raise BrokenHistory(
                f"{change.entity} {change.entity_id}: {change.action} starts from "
                f"{change.from_state!r} but the history left it {before!r}"
            )
        states[key] = change.to_state
    return states
