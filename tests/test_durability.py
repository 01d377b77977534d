"""What survives the server process dying: SIGKILL it mid-day, start it again on the same database.

One server for the module; each test uses services and counters of its own (A; C at counter 4; D;
B at counter 3), so they do not depend on each other's tickets or on their order.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.callwise import CallwiseServer
from tests.support.listener import CONNECTED, DISCONNECTED, Listener

pytestmark = pytest.mark.server

TELLER, KIOSK, DISPLAY = "ana", "door", "lobby"
LASTING = ("id", "number", "service", "status", "token", "people_ahead", "issued_at", "called_at", "counter",
           "estimated_wait_at_issue_s", "business_day")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    with CallwiseServer.running(
        tmp_path_factory.mktemp("durability"),
        staff={TELLER: "teller"},
        devices={KIOSK: "kiosk", DISPLAY: "display"},
    ) as running:
        yield running


def act(server: CallwiseServer, counter: int, action: str, json: Any = None) -> dict[str, Any]:
    response = server.post(f"/counters/{counter}/{action}", who=TELLER, json=json)
    assert response.status_code == 200, (action, response.text)
    return dict(response.json())


def counter_view(server: CallwiseServer, number: int) -> dict[str, Any]:
    response = server.get("/counters", who=TELLER)
    assert response.status_code == 200, response.text
    return next(c for c in response.json() if c["number"] == number)


def crash_and_restart(server: CallwiseServer) -> None:
    server.kill()
    assert server.process is not None and server.process.returncode == -signal.SIGKILL
    server.restart()


def lasting(ticket: dict[str, Any]) -> dict[str, Any]:
    return {field: ticket[field] for field in LASTING}


def test_waiting_tickets_survive_a_sigkill_and_numbering_continues(server: CallwiseServer) -> None:
    issued = [server.issue("A", kiosk=KIOSK) for _ in range(3)]
    assert [t["number"] for t in issued] == ["A001", "A002", "A003"]
    before = [server.ticket(t["token"]) for t in issued]

    crash_and_restart(server)

    after = [server.ticket(t["token"]) for t in issued]
    assert [lasting(t) for t in after] == [lasting(t) for t in before]
    assert [t["status"] for t in after] == ["waiting"] * 3
    assert [t["position"] for t in after] == [1, 2, 3]
    assert server.issue("A", kiosk=KIOSK)["number"] == "A004"
    queue = {s["code"]: s for s in server.get("/queue", who=TELLER).json()["services"]}
    assert [t["number"] for t in queue["A"]["tickets"]] == ["A001", "A002", "A003", "A004"]


def test_a_called_ticket_is_still_called_at_its_counter_after_a_sigkill(server: CallwiseServer) -> None:
    act(server, 4, "open")
    called = server.issue("C", kiosk=KIOSK)
    assert act(server, 4, "call-next")["number"] == called["number"]
    waiting = server.issue("C", kiosk=KIOSK)  # issued after the call, so call-next's order is no question
    before = server.ticket(called["token"])

    crash_and_restart(server)

    after = server.ticket(called["token"])
    assert lasting(after) == lasting(before)
    assert (after["status"], after["counter"], after["position"]) == ("called", 4, 0)
    counter = counter_view(server, 4)
    assert counter["state"] == "calling"
    assert counter["staff"]["username"] == TELLER
    assert counter["current_ticket"]["number"] == called["number"]
    assert server.ticket(waiting["token"])["status"] == "waiting"

    # The teller's log-in outlived the process too, and the day goes on where it stopped.
    assert act(server, 4, "start")["status"] == "serving"
    assert act(server, 4, "complete", {"outcome": "done"})["status"] == "done"
    assert act(server, 4, "call-next")["number"] == waiting["number"]
    act(server, 4, "start")
    act(server, 4, "complete", {"outcome": "done"})
    act(server, 4, "close")


def test_tickets_survive_a_graceful_stop_as_well(server: CallwiseServer) -> None:
    ticket = server.issue("D", kiosk=KIOSK)
    server.stop()
    assert not server.running_now
    server.restart()
    assert lasting(server.ticket(ticket["token"])) == lasting(ticket)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_display_reconnects_by_itself_after_a_crash_and_hears_calls_again(
    server: CallwiseServer, transport: str
) -> None:
    act(server, 3, "open")
    before_crash = server.issue("B", kiosk=KIOSK)
    after_crash = server.issue("B", kiosk=KIOSK)
    act(server, 3, "call-next")
    display = Listener(server.base_url, {"token": server.tokens[DISPLAY]}, transport=transport, reconnection=True)
    try:
        display.connect()
        display.wait_for("state_snapshot")

        server.kill()
        display.wait_for(DISCONNECTED)
        server.restart()
        display.wait_for(CONNECTED)
        snapshot = display.wait_for("state_snapshot")  # sent again on the new connection, without asking
        call = next(c for c in snapshot["recent_calls"] if c["number"] == before_crash["number"])
        assert (call["counter"], call["status"]) == (3, "called")

        act(server, 3, "start")
        act(server, 3, "complete", {"outcome": "done"})
        act(server, 3, "call-next")
        heard = display.wait_for("ticket_called")
        assert (heard["number"], heard["counter"], heard["recall"]) == (after_crash["number"], 3, False)
    finally:
        display.close()
        for action in ("start", "complete", "close"):  # best effort: the assertions above say what went wrong
            server.post(f"/counters/3/{action}", who=TELLER)
