"""The pure state machines of counters and tickets, and replaying the event log."""

from __future__ import annotations

import pytest

from server.queueing.machine import (
    COUNTER_ACTIONS,
    BrokenHistory,
    CounterState,
    InvalidTransition,
    LoggedChange,
    TicketStatus,
    counter_step,
    replay,
    ticket_step,
)


def test_a_closed_counter_can_only_be_opened():
    assert counter_step(CounterState.CLOSED, "open") == CounterState.IDLE
    for action in set(COUNTER_ACTIONS) - {"open"}:
        with pytest.raises(InvalidTransition):
            counter_step(CounterState.CLOSED, action)


def test_the_teller_cycle_goes_idle_calling_serving_idle():
    state = counter_step(CounterState.IDLE, "call_next")
    assert state == CounterState.CALLING
    assert counter_step(state, "recall") == CounterState.CALLING
    state = counter_step(state, "start")
    assert state == CounterState.SERVING
    assert counter_step(state, "request_help") == CounterState.SERVING
    assert counter_step(state, "complete") == CounterState.IDLE


def test_a_paused_counter_resumes_or_closes_but_never_calls():
    assert counter_step(CounterState.PAUSED, "resume") == CounterState.IDLE
    assert counter_step(CounterState.PAUSED, "close") == CounterState.CLOSED
    with pytest.raises(InvalidTransition, match="cannot call next: the counter is paused"):
        counter_step(CounterState.PAUSED, "call_next")


def test_a_counter_with_a_customer_cannot_pause_or_close():
    for state in (CounterState.CALLING, CounterState.SERVING):
        for action in ("pause", "close", "call_next", "open"):
            with pytest.raises(InvalidTransition):
                counter_step(state, action)


def test_ticket_lifecycle_and_transfer_back_to_waiting():
    status = ticket_step(None, "issue")
    assert status == TicketStatus.WAITING
    status = ticket_step(status, "call")
    assert ticket_step(status, "transfer") == TicketStatus.WAITING
    assert ticket_step(status, "no_show") == TicketStatus.NO_SHOW
    assert ticket_step(ticket_step(status, "start"), "complete") == TicketStatus.DONE


def test_a_finished_ticket_never_changes_again():
    for finished in (TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.CANCELLED):
        for action in ("call", "recall", "start", "complete", "no_show", "transfer", "cancel"):
            with pytest.raises(InvalidTransition):
                ticket_step(finished, action)


def test_replay_rebuilds_states_from_the_log():
    log = [
        LoggedChange("ticket", 1, "issue", None, "waiting"),
        LoggedChange("counter", 7, "open", "closed", "idle"),
        LoggedChange("ticket", 1, "call", "waiting", "called"),
        LoggedChange("counter", 7, "call_next", "idle", "calling"),
    ]
    assert replay(log) == {("ticket", 1): "called", ("counter", 7): "calling"}


def test_replay_refuses_a_history_with_a_hole():
    log = [
        LoggedChange("ticket", 1, "issue", None, "waiting"),
        LoggedChange("ticket", 1, "complete", "serving", "done"),
    ]
    with pytest.raises(BrokenHistory):
        replay(log)
