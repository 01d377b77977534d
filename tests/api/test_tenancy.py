"""Many branches in one server and one database: each sees and touches only its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server import create_app, rooms
from server.accounts import add_device, login, save_staff
from server.runtime import RecordingPublisher
from tests.api.test_range_report import walk
from tests.conftest import Api, copy_of

TWO_BRANCHES = Path(__file__).resolve().parents[1] / "two_branches.toml"
PASSWORD = "correct-horse-9"


def build_two_branches(url: str) -> dict[str, str]:
    """North and south, with a teller, manager and kiosk in each and an admin of all; their tokens."""
    app = create_app(TWO_BRANCHES, server={"database_url": url})
    rt = app.extensions["callwise"]
    tokens = {}
    for branch in ("north", "south"):
        for role in ("teller", "manager"):
            save_staff(rt, f"{branch}-{role}", role, PASSWORD, branch_code=branch)
            tokens[f"{branch}-{role}"] = login(rt, f"{branch}-{role}", PASSWORD)["token"]
        tokens[f"{branch}-kiosk"] = add_device(rt, f"{branch}-kiosk", "kiosk", branch_code=branch)
        tokens[f"{branch}-display"] = add_device(rt, f"{branch}-display", "display", branch_code=branch)
    save_staff(rt, "root", "admin", PASSWORD)
    tokens["root"] = login(rt, "root", PASSWORD)["token"]
    rt.db.dispose()
    return tokens


@pytest.fixture
def two_branches_db(backend, templates, request, tmp_path):  # type: ignore[no-untyped-def]
    """A copy of the two-branch template database (built once per session and backend)."""
    template = templates.get("two_branches_template", build_two_branches, backend, request)
    yield from copy_of(template, backend, request, tmp_path)


@pytest.fixture
def two(two_branches_db):  # type: ignore[no-untyped-def]
    """An app serving north and south, with a teller, manager and kiosk in each and an admin of all."""
    app = create_app(TWO_BRANCHES, server={"database_url": two_branches_db.url})
    rt = app.extensions["callwise"]
    yield Api(app.test_client(), two_branches_db.tokens), rt
    rt.db.dispose()


def test_each_branch_numbers_its_own_tickets_with_its_own_services(two):
    api, _ = two
    assert api.issue("A", "north-kiosk")["number"] == "A001"
    assert api.issue("C", "north-kiosk")["number"] == "C001"
    assert api.issue("A", "south-kiosk")["number"] == "A001"
    unknown = api.post("/tickets", "south-kiosk", json={"service": "C"})  # south offers no C
    assert unknown.status_code == 422
    south = api.get("/services", "south-kiosk").get_json()
    assert [s["code"] for s in south] == ["A"]
    assert south[0]["expected_minutes"] == 4


def test_same_counter_number_in_two_branches_are_different_counters(two):
    api, _ = two
    api.issue("A", "north-kiosk")
    api.issue("A", "south-kiosk")
    north = api.ok(1, "open", "north-teller")
    south = api.ok(1, "open", "south-teller")
    assert north["staff"]["username"] == "north-teller"
    assert south["staff"]["username"] == "south-teller"
    assert api.ok(1, "call-next", "north-teller")["number"] == "A001"
    assert api.get("/counters", "south-teller").get_json()[0]["state"] == "idle"


@pytest.mark.parametrize("who", ["north-teller", "north-manager", "north-kiosk", "north-display"])
def test_staff_and_devices_of_one_branch_are_refused_everything_of_another(two, who):
    api, rt = two
    api.issue("A", "south-kiosk")
    api.ok(1, "open", "south-teller")
    before = _south_state(api)
    attempts: list[tuple[str, str, Any]] = [
        ("get", "/queue?branch=south", None),
        ("get", "/counters?branch=south", None),
        ("get", "/alerts?branch=south", None),
        ("get", "/reports/daily?branch=south", None),
        ("post", "/tickets?branch=south", {"service": "A"}),
        *[("post", f"/counters/1/{action}?branch=south", body) for action, body in (
            ("open", None), ("call-next", None), ("recall", None), ("start", None),
            ("complete", {"outcome": "done"}), ("no-show", None), ("transfer", {"service": "A"}),
            ("pause", {"reason": "break"}), ("resume", None), ("request-help", None), ("close", None))],
    ]
    for method, path, body in attempts:
        response = getattr(api, method)(path, who, **({"json": body} if body is not None else {}))
        assert response.status_code in (403, 404), (who, path, response.status_code, response.get_json())
    assert _south_state(api) == before


def test_an_alert_of_another_branch_cannot_be_acknowledged(two):
    api, rt = two
    api.ok(1, "open", "south-teller")
    api.issue("A", "south-kiosk")
    api.post("/clock/advance", "root", json={"seconds": 130})  # the clock is every branch's: an admin moves it
    [alert] = [a for a in api.get("/alerts", "south-manager").get_json() if a["rule"] == "idle_counter"]
    refused = api.post(f"/alerts/{alert['id']}/ack", "north-manager")
    assert refused.status_code == 404
    assert api.get("/alerts", "south-manager").get_json()[0]["acknowledged_at"] is None


def test_each_branch_uses_its_own_thresholds(two):
    api, _ = two
    api.ok(1, "open", "north-teller")
    api.ok(1, "open", "south-teller")
    api.issue("A", "north-kiosk")
    api.issue("A", "south-kiosk")
    api.post("/clock/advance", "root", json={"seconds": 60})
    assert [a["rule"] for a in api.get("/alerts", "north-manager").get_json()] == ["idle_counter"]
    assert api.get("/alerts", "south-manager").get_json() == []  # south warns at 120 s
    api.post("/clock/advance", "root", json={"seconds": 60})
    assert [a["rule"] for a in api.get("/alerts", "south-manager").get_json()] == ["idle_counter"]


def test_an_admin_of_every_branch_names_the_branch(two):
    api, _ = two
    api.issue("A", "south-kiosk")
    assert api.get("/queue?branch=south", "root").get_json()["services"][0]["waiting"] == 1
    assert api.get("/queue?branch=north", "root").get_json()["services"][0]["waiting"] == 0
    assert api.get("/queue?branch=nowhere", "root").status_code == 404


def test_events_of_one_branch_go_only_to_its_rooms(two):
    api, rt = two
    recorder = RecordingPublisher()
    rt.publisher = recorder
    api.ok(1, "open", "south-teller")
    api.issue("A", "south-kiosk")
    api.ok(1, "call-next", "south-teller")
    north_id, south_id = rt.branch_ids["north"], rt.branch_ids["south"]
    north_rooms = {rooms.displays(north_id), rooms.staff(north_id), rooms.managers(north_id),
                   rooms.kiosks(north_id), rooms.phones(north_id)}
    sent_to = {room for _, _, targets in recorder.sent for room in targets}
    assert sent_to & north_rooms == set()
    assert rooms.displays(south_id) in sent_to


def test_business_days_follow_each_branchs_time_zone(two):
    api, rt = two
    # 23:30 in Shanghai is 21:30 in Urumqi: north starts a new day before south does
    rt.clock.advance(14.5 * 3600)
    north_late = api.issue("A", "north-kiosk")
    rt.clock.advance(3600)  # 00:30 Shanghai, 22:30 Urumqi
    north_next = api.issue("A", "north-kiosk")
    south_same = api.issue("A", "south-kiosk")
    assert (north_late["business_day"], north_next["business_day"]) == ("2026-11-30", "2026-12-01")
    assert north_next["number"] == "A001"
    assert south_same["business_day"] == "2026-11-30"


def _south_state(api):  # type: ignore[no-untyped-def]
    return (api.get("/queue?branch=south", "root").get_json(), api.get("/counters?branch=south", "root").get_json())


def test_a_sweep_reads_again_only_the_branch_that_changed_and_yields_between_branches(two, monkeypatch):
    api, rt = two
    from server.alerts import engine as engine_module

    _north_id, south_id = rt.branch_ids["north"], rt.branch_ids["south"]
    reads: list[int] = []
    real = engine_module.load_snapshot
    monkeypatch.setattr(engine_module, "load_snapshot", lambda s, c, b, n: reads.append(b) or real(s, c, b, n))
    pauses: list[int] = []
    rt.alerts.pause = lambda: pauses.append(1)
    rt.change_listeners.clear()  # changes reach the engine only through its sweeps here
    api.ok(1, "open", "north-teller")
    api.issue("A", "north-kiosk")
    rt.alerts.sweep()
    reads.clear()
    pauses.clear()
    api.issue("A", "south-kiosk")  # south changes; north stays as it was, only later
    rt.clock.advance(5 * 60)
    rt.alerts.sweep()
    assert reads == [south_id]
    assert len(pauses) >= 2  # once per branch at least: other requests are served during a sweep
    # The unchanged north is still judged at the new time: its idle counter is five minutes old now.
    [alert] = open_alerts_of(api, "north-manager", "idle_counter")
    assert alert["counter"] == 1
    assert open_alerts_of(api, "south-manager", "idle_counter") == []
    rt.alerts.sweep()
    assert reads == [south_id]  # nothing changed since: nothing read again


def open_alerts_of(api, who, rule):  # type: ignore[no-untyped-def]
    return [a for a in api.get("/alerts?state=open", who).get_json() if a["rule"] == rule]


def test_each_branchs_range_report_counts_its_own_days_in_its_own_zone(two):
    """At 00:55 on Tuesday in Shanghai (22:55 on Monday in Urumqi), a south customer waits eleven
    minutes at an idle counter and complains; a north customer is called at once. South's Monday
    has the incidents and the complaint; north's Tuesday has its ticket and nothing else."""
    api, rt = two
    rt.clock.advance(15 * 3600 + 55 * 60)
    api.ok(1, "open", "south-teller")
    waiting = api.issue("A", "south-kiosk")
    api.ok(1, "open", "north-teller")
    api.issue("A", "north-kiosk")
    api.ok(1, "call-next", "north-teller")
    walk(api, 660, who="root")  # the clock is every branch's: an admin moves it
    assert api.post("/complaints", "south-teller", json={"kind": "short_queue_wait", "ticket": waiting["id"],
                                                          "counter": 1}).status_code == 201
    south = api.get("/reports/range?from=2026-11-30&to=2026-12-01", "south-manager").get_json()
    north = api.get("/reports/range?from=2026-11-30&to=2026-12-01", "north-manager").get_json()
    assert (south["timezone"], north["timezone"]) == ("Asia/Urumqi", "Asia/Shanghai")
    assert [(d["date"], d["tickets"], d["incidents_total"], d["complaints_total"], d["incidents_no_complaint"])
            for d in south["days"]] == [("2026-11-30", 1, 2, 1, 1), ("2026-12-01", 0, 0, 0, 0)]
    assert [(i["kind"], i["date"], i["complaint"] is not None) for i in south["incidents"]] == [
        ("idle_counter", "2026-11-30", False), ("short_queue", "2026-11-30", True)]
    assert [(d["date"], d["tickets"], d["incidents_total"], d["complaints_total"]) for d in north["days"]] == [
        ("2026-11-30", 0, 0, 0), ("2026-12-01", 1, 0, 0)]
    assert north["incidents"] == [] and north["complaints"] == []
    # An admin names the branch and sees the same; south's figures stay south's.
    assert api.get("/reports/range?from=2026-11-30&to=2026-12-01&branch=south", "root").get_json()["total"] == \
        south["total"]


def test_a_complaint_names_only_its_own_branchs_tickets_and_counters_and_is_seen_only_there(two):
    api, _rt = two
    south_ticket = api.issue("A", "south-kiosk")
    assert api.post("/complaints", "north-teller", json={"kind": "short_queue_wait",
                                                          "ticket": south_ticket["id"]}).status_code == 404
    assert api.post("/complaints", "south-teller", json={"kind": "short_queue_wait",
                                                          "ticket": south_ticket["id"]}).status_code == 201
    assert api.get("/complaints", "north-manager").get_json() == []
    assert [c["ticket"]["id"] for c in api.get("/complaints", "south-manager").get_json()] == [south_ticket["id"]]
