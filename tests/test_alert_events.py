"""Alerts over Socket.IO, against a real server process on the manual clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.callwise import CallwiseServer
from tests.support.listener import listening

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    with CallwiseServer.running(
        tmp_path_factory.mktemp("alerts"),
        staff={"mia": "manager", "ana": "teller", "bo": "teller"},
        devices={"door": "kiosk", "lobby": "display"},
    ) as running:
        yield running


def test_manager_hears_an_alert_within_a_second_and_its_resolution_and_a_teller_only_their_own(server):
    auth = {name: {"token": server.tokens[name]} for name in ("mia", "ana", "bo")}
    with listening(server.base_url, auth["mia"]) as manager, listening(server.base_url, auth["ana"]) as ana, \
            listening(server.base_url, auth["bo"]) as bo, \
            listening(server.base_url, {"token": server.tokens["lobby"]}) as display:
        assert server.post("/counters/1/open", who="ana").status_code == 200
        assert server.post("/counters/4/open", who="bo").status_code == 200  # serves C and D only
        ticket = server.issue("A", kiosk="door")

        sent = time.monotonic()
        assert server.post("/clock/advance", who="mia", json={"seconds": 60}).status_code == 200
        alert = manager.wait_for("alert_raised", lambda a: a["rule"] == "idle_counter", timeout=1.0)
        assert time.monotonic() - sent < 1.0
        assert (alert["severity"], alert["counter"], alert["subject"]["id"]) == ("warning", 1, 1)
        assert "idle" in alert["messages"]["en"]

        own = ana.wait_for("alert_raised", lambda a: a["id"] == alert["id"], timeout=1.0)
        assert own["rule"] == "idle_counter"

        assert server.post("/counters/1/call-next", who="ana").json()["number"] == ticket["number"]
        resolved = manager.wait_for("alert_resolved", lambda a: a["id"] == alert["id"], timeout=3.0)
        assert resolved["resolved_at"] is not None
        ana.wait_for("alert_resolved", lambda a: a["id"] == alert["id"], timeout=3.0)

        bo.sync()
        display.sync()
        assert [a for a in bo.received("alert_raised") if a["id"] == alert["id"]] == []
        assert display.received("alert_raised") == display.received("alert_resolved") == []

        snapshot = manager.sync()
        assert all(a["id"] != alert["id"] for a in snapshot["alerts"])
        server.post("/counters/1/start", who="ana")
        server.post("/counters/1/complete", who="ana")
        server.post("/counters/1/close", who="ana")
        server.post("/counters/4/close", who="bo")


def test_a_help_request_reaches_the_manager_at_once(server):
    with listening(server.base_url, {"token": server.tokens["mia"]}) as manager:
        assert server.post("/counters/2/open", who="ana").status_code == 200
        server.issue("A", kiosk="door")
        server.post("/counters/2/call-next", who="ana")
        server.post("/counters/2/start", who="ana")
        sent = time.monotonic()
        server.post("/counters/2/request-help", who="ana")
        alert = manager.wait_for("alert_raised", lambda a: a["rule"] == "help_requested", timeout=2.0)
        assert time.monotonic() - sent < 2.0
        assert alert["counter"] == 2
        coming = server.post(f"/alerts/{alert['id']}/respond", who="mia", json={"state": "on_my_way"})
        assert coming.status_code == 200
        manager.wait_for("alert_changed",
                         lambda a: a["id"] == alert["id"] and a["data"].get("help_state") == "on_my_way")
        done = server.post(f"/alerts/{alert['id']}/respond", who="mia", json={"state": "done"})
        assert done.status_code == 200
        manager.wait_for("alert_resolved", lambda a: a["id"] == alert["id"])
        server.post("/counters/2/complete", who="ana")
        server.post("/counters/2/close", who="ana")
