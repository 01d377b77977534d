"""The simulator end to end on a small two-hour branch: reproducible, and its figures add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from server.simulator.run import simulate
from server.simulator.world import World

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
    # Everyone who took a ticket before closing was called (the tellers stay until the hall is empty).
    assert all(t.called is not None for t in result.tickets)
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
