"""The incidents of a real day (server/incident_history.py, in the daily and range reports) are the
simulator's incidents: counted from the same history with the same definitions, they agree with
what the simulator itself counts for a simulated day, kind by kind and one by one."""

from __future__ import annotations

from datetime import timedelta

from server.report_loader import load_daily_report
from server.simulator.run import Simulation
from server.vocabulary import INCIDENT_KINDS
from tests.test_simulator import SMALL, small_world


def test_the_reports_incidents_of_a_simulated_day_are_the_simulators_own() -> None:
    sim = Simulation(seed=3, world=small_world(), config_path=SMALL, manager="none", tick_s=10)
    try:
        result = sim.run()
        report = load_daily_report(sim.rt, sim.branch_id, sim.opening.astimezone(sim.clock.now().tzinfo).date())
    finally:
        sim.close_database()
    counted = result.summary["incidents"]
    assert counted["total"] > 0, "a day with no incident proves nothing: pick another seed"
    assert report["headline"]["incidents"] == {kind: counted[kind] for kind in INCIDENT_KINDS.codes}
    seen = sorted((i["kind"], i["at"]) for i in report["incidents"])
    expected = sorted((i.kind, (sim.opening + timedelta(seconds=i.at)).isoformat())
                      for i in result.incidents)
    assert seen == expected
    # Which of them a card warned of: the same, counting the stories cards took in from when each
    # was first shown (the simulator hears them from the events; the report reads them from the
    # alerts' history).
    assert report["headline"]["incidents_warned"] == sum(
        entry["warned"] for entry in _per_kind(result))


def _per_kind(result):  # type: ignore[no-untyped-def]
    from server.simulator.incidents import match

    return match(result.incidents, [story for alert in result.alerts for story in alert.told()])["per_kind"].values()
