"""The simulator end to end on a small two-hour branch: reproducible, and its figures add up."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from server.queueing import tickets
from server.simulator.run import Simulation, simulate
from server.simulator.world import Customer, World

SMALL = str(Path(__file__).with_name("sim_small.toml"))


def small_world(**changes: object) -> World:
    # A busy two hours with many slow tellers and long pauses: incidents of every kind happen.
    return World(tickets=70, reserve_counters=1, slow_teller_share=0.6, slow_call_chance=0.4, **changes)  # type: ignore[arg-type]


def run_cli(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / f"day{len(list(tmp_path.iterdir()))}.json"
    result = CliRunner().invoke(main, ["simulate", "--config", SMALL, "--quiet", "--json", str(out), *args])
    assert result.exit_code == 0, result.output
    assert "complaint incidents" in result.output
    return json.loads(out.read_text())


def test_the_same_seed_gives_the_same_day_and_another_seed_another(tmp_path: Path) -> None:
    args = ["--seed", "7", "--tickets", "70", "--tick", "10", "--world", "reserve_counters=1",
            "--world", "slow_teller_share=0.6"]
    first, again = run_cli(tmp_path, *args), run_cli(tmp_path, *args)
    other = run_cli(tmp_path, *[a if a != "7" else "8" for a in args])
    for day in (first, again, other):
        day.pop("run_s")
    assert first == again
    assert first != other
    for key in ("seed", "policy", "manager", "tickets", "wait_s", "incidents", "alerts", "short_queue_recall",
                "short_queue_median_lead_s", "false_alert_share", "eta_mae_s", "eta_naive_mae_s"):
        assert key in first
    assert set(first["incidents"]) == {"short_queue", "idle_counter", "paused_ratio", "service_overrun", "total"}  # type: ignore[arg-type]


def test_a_day_drives_the_real_domain_every_customer_is_served_and_the_figures_agree() -> None:
    result = simulate(seed=3, world=small_world(), config_path=SMALL, manager=False, tick_s=5)
    s = result.summary
    assert 40 <= s["tickets"] <= 110  # a Poisson count around 70
    assert s["tickets"] == len(result.tickets)
    # Everyone who took a ticket was called, or was still waiting at closing and was sent home with
    # the reason; those who came after the last-ticket time were refused at the door.
    not_called = [t for t in result.tickets if t.called is None]
    assert len(not_called) == s["cancelled_at_closing"]
    assert s["refused_at_door"] > 0  # the small branch's last quarter-hour still has arrivals
    # Nobody sent home at closing without having been told, at the kiosk or on their phone and the
    # lobby screen at least a quarter of an hour before, that they might not be served today.
    assert s["cancelled_at_closing"] > 0 and s["cancelled_unwarned"] == 0
    assert 0 < s["warned_while_waiting"] <= s["tickets"]
    assert s["incidents"]["total"] == len(result.incidents) == sum(
        s["incidents"][k] for k in ("short_queue", "idle_counter", "paused_ratio", "service_overrun"))
    assert sum(s["alerts"].values()) == len(result.alerts)
    assert s["manager_actions"] == {}  # nobody reacts without a manager
    assert s["refused_actions"] == {}  # the people model never asked for anything the system refused
    assert s["wait_s"]["p50"] <= s["wait_s"]["p90"] <= s["wait_s"]["max"]


def test_a_manager_who_reacts_to_alerts_prevents_complaints() -> None:
    # Over a few seeds (one day can be lucky): the same customers and tellers, with and without
    # someone watching the dashboard.
    without = with_manager = 0
    for seed in (1, 2):
        alone = simulate(seed=seed, world=small_world(), config_path=SMALL, manager=False, tick_s=10).summary
        without += alone["incidents"]["total"]
        day = simulate(seed=seed, world=small_world(), config_path=SMALL, manager=True, tick_s=10).summary
        with_manager += day["incidents"]["total"]
        assert sum(day["manager_actions"].values()) > 0
    assert without > 0
    assert with_manager < without


@pytest.mark.parametrize("bad", ["no_such_knob=1", "tickets", "pause_reasons={'nap': (1.0, 5.0)}"])
def test_a_bad_world_parameter_is_a_clear_error(bad: str) -> None:
    result = CliRunner().invoke(main, ["simulate", "--config", SMALL, "--quiet", "--world", bad])
    assert result.exit_code == 2
    assert "--world" in result.output


# --- the simulated tellers answering the manager, step by step ------------------------------------


def _step_until(sim: Simulation, until: float) -> None:
    """Play the scheduled events up to ``until`` (no alert sweeps: only the people)."""
    while sim._queue and sim._queue[0][0] <= until:
        when, _, action, args = heapq.heappop(sim._queue)
        sim._move_to(when)
        action(*args)
    sim._move_to(until)


@pytest.fixture
def quiet_branch() -> Iterator[Simulation]:
    sim = Simulation(seed=5, world=small_world(pauses_per_hour=0.0), config_path=SMALL, manager="none", tick_s=10)
    try:
        sim._move_to(0.0)  # the branch has opened: tickets can be taken
        for teller in sim.tellers.values():
            if not teller.reserve:
                sim.open_counter(teller)
        yield sim
    finally:
        sim.close_database()


def test_a_teller_at_lunch_or_in_a_meeting_says_no_and_the_pause_goes_on(quiet_branch: Simulation) -> None:
    sim = quiet_branch
    lunch, meeting = sim.tellers[1], sim.tellers[2]
    sim.pause(lunch, "lunch", 1800)
    sim.pause(meeting, "meeting", 900)
    assert sim.instruct(1, "end_pause", None, None) and sim.instruct(2, "end_pause", None, None)
    _step_until(sim, 60)
    assert (lunch.state, meeting.state) == ("paused", "paused")
    assert sim.answers == {"end_pause:cannot": 2}
    _step_until(sim, 1801)
    assert lunch.state == "idle"
    assert [(n, reason, end - start) for n, reason, start, end in sim.pause_log if n == 1] == [(1, "lunch", 1800)]


def test_a_break_cut_short_is_taken_later(quiet_branch: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = quiet_branch
    teller = sim.tellers[1]
    monkeypatch.setattr(sim.draws, "agrees_to_end_break", lambda number: True)
    sim.pause(teller, "break", 600)
    _step_until(sim, 100)
    assert sim.instruct(1, "end_pause", None, None)
    _step_until(sim, 140)
    assert teller.state == "idle" and sim.answers == {"end_pause:done": 1}
    cut_at = sim.pause_log[-1][3]
    assert cut_at is not None and teller.owed_s == pytest.approx(600 - cut_at)
    sim.after_customer(teller, 120)  # too soon: the rest of the break waits
    assert teller.state == "idle"
    _step_until(sim, cut_at + sim.world.owed_break_after_s)
    sim.after_customer(teller, 120)
    assert (teller.state, teller.pause_reason) == ("paused", "break")
    assert teller.pause_until - sim.now == pytest.approx(600 - cut_at)


def test_a_teller_asked_to_end_a_break_may_say_no(quiet_branch: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = quiet_branch
    monkeypatch.setattr(sim.draws, "agrees_to_end_break", lambda number: False)
    sim.pause(sim.tellers[1], "break", 600)
    sim.instruct(1, "end_pause", None, None)
    _step_until(sim, 60)
    assert sim.tellers[1].state == "paused" and sim.answers == {"end_pause:cannot": 1}


def test_the_managers_help_ends_the_wait_for_the_authorization_not_the_transaction(quiet_branch: Simulation) -> None:
    sim = quiet_branch
    teller = sim.tellers[1]
    ticket, _ = tickets.issue_ticket(sim.rt, sim.kiosk, sim.branch_id, "A")
    sim.waiting[ticket["id"]] = "A"
    # 300 s at the counter, of which the first 100 before the authorization; the back office would
    # take 900 s to give it.
    sim.customers[ticket["id"]] = Customer("A", False, 10.0, 300.0, (100.0, 900.0), "done")
    teller.gen += 1
    sim.call(teller, teller.gen)
    _step_until(sim, 10 + 100 + 1)  # walked up, served, the authorization asked for
    assert teller.auth_wait and teller.finish_at is None
    _step_until(sim, 400)
    assert sim.authorize(1)  # the manager, on the spot at 400 s
    assert teller.finish_at == pytest.approx(400 + 200)  # the rest of the transaction still to do
    assert not sim.authorize(1)
    _step_until(sim, 601)
    assert teller.state == "idle"


def test_a_busy_teller_asked_to_take_a_customer_next_calls_straight_after_without_a_pause(
        quiet_branch: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = quiet_branch
    teller = sim.tellers[1]
    monkeypatch.setattr(sim.draws, "pause_after_customer", lambda number, customer_s: ("break", 600.0))
    first, _ = tickets.issue_ticket(sim.rt, sim.kiosk, sim.branch_id, "A")
    second, _ = tickets.issue_ticket(sim.rt, sim.kiosk, sim.branch_id, "A")
    for ticket in (first, second):
        sim.waiting[ticket["id"]] = "A"
        sim.customers[ticket["id"]] = Customer("A", False, 10.0, 300.0, None, "done")
    teller.gen += 1
    sim.call(teller, teller.gen)
    _step_until(sim, 60)
    assert teller.state == "serving"
    assert sim.instruct(1, "serve_ticket", second["id"], None)
    _step_until(sim, 100)
    assert sim.answers == {"serve_ticket:done": 1}
    _step_until(sim, 10 + 300 + 1)  # done with the first: no break, the next one called at once
    assert teller.state == "calling" and teller.ticket == second["id"]


def test_priority_customers_late_no_shows_and_holds_go_through_the_real_commands() -> None:
    """The people the counter's tools are for: priority customers, no-shows who come back late, and
    customers sent to fetch a document. The real commands serve them, nothing is refused, and the
    call order gives the priority customers the shorter wait."""
    world = small_world(priority_share=0.3, no_show_share=0.2, late_return_share=1.0, late_return_s=(60.0, 120.0),
                        hold_share=0.25, hold_fetch_s=(60.0, 180.0))
    s = simulate(seed=5, world=world, config_path=SMALL, manager=False, tick_s=10).summary
    tools = s["counter_tools"]
    assert s["refused_actions"] == {}
    assert tools["priority"] > 5 and tools["held"] > 3 and tools["returned"] > 1
    # Whoever was set aside and came back before closing was called back.
    assert tools["called_back"] >= tools["held"] - 3
    assert s["priority_wait_s"]["priority"] < s["priority_wait_s"]["others"]
