"""Socket.IO against a real server process: who hears what, and catching up after a reconnect.

One server for the module. Each test signs the teller in at a counter of its own and, when it is
done, sends away everyone still waiting and signs out again, so the next test starts from an empty
queue and closed counters.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.support.callwise import CallwiseServer
from tests.support.listener import Listener, listening

pytestmark = pytest.mark.server

TELLER, DISPLAY, KIOSK = "ana", "lobby", "door"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    with CallwiseServer.running(
        tmp_path_factory.mktemp("realtime"),
        staff={TELLER: "teller"},
        devices={DISPLAY: "display", KIOSK: "kiosk"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def counter_numbers() -> Iterator[int]:
    return itertools.cycle([1, 2, 3])  # the test branch's counters that serve both A and B


class Desk:
    """The teller signed in at one counter, acting over HTTP."""

    def __init__(self, server: CallwiseServer, number: int) -> None:
        self.server = server
        self.number = number

    def act(self, action: str, json: Any = None) -> Any:
        return self.server.post(f"/counters/{self.number}/{action}", who=TELLER, json=json)

    def ok(self, action: str, json: Any = None) -> dict[str, Any]:
        response = self.act(action, json)
        assert response.status_code == 200, (action, response.text)
        return dict(response.json())

    def call_next(self) -> dict[str, Any]:
        return self.ok("call-next")

    def finish(self) -> None:
        """Serve the called customer at once (a no-show would have to wait out its grace)."""
        self.ok("start")
        self.ok("complete", {"outcome": "done"})

    def send_everyone_away(self) -> None:
        """Finish the current customer and serve every waiting one at once, until the queue is empty."""
        state = self._state()
        if state == "calling":
            self.ok("start")
        if state in ("calling", "serving"):
            self.ok("complete", {"outcome": "done"})
        while (response := self.act("call-next")).status_code == 200:
            self.finish()
        assert response.json()["error"]["code"] == "queue_empty", response.text

    def _state(self) -> str:
        counters = self.server.get("/counters", who=TELLER).json()
        return next(c["state"] for c in counters if c["number"] == self.number)


@pytest.fixture
def desk(server: CallwiseServer, counter_numbers: Iterator[int]) -> Iterator[Desk]:
    desk = Desk(server, next(counter_numbers))
    desk.ok("open")
    yield desk
    desk.send_everyone_away()
    desk.ok("close")


@pytest.fixture
def display(server: CallwiseServer) -> Iterator[Listener]:
    with listening(server.base_url, {"token": server.tokens[DISPLAY]}) as listener:
        listener.wait_for("state_snapshot")
        yield listener


def issue(server: CallwiseServer, service: str = "A") -> dict[str, Any]:
    return server.issue(service, kiosk=KIOSK)


def waiting_counts(services: list[dict[str, Any]]) -> dict[str, int]:
    return {service["code"]: service["waiting"] for service in services}


# --- displays -------------------------------------------------------------------------------------


def test_display_gets_a_state_snapshot_on_connect(server: CallwiseServer, desk: Desk) -> None:
    with listening(server.base_url, {"token": server.tokens[DISPLAY]}) as display:
        snapshot = display.wait_for("state_snapshot")
    assert snapshot["role"] == "display"
    assert snapshot["branch"]["code"] == "test"
    assert [s["code"] for s in snapshot["services"]] == ["A", "B", "C", "D"]
    open_counter = next(c for c in snapshot["counters"] if c["number"] == desk.number)
    assert open_counter["state"] == "idle"
    assert "queue" not in snapshot  # the waiting list with ticket details is for staff


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_display_hears_the_number_and_counter_when_a_teller_calls_next(
    server: CallwiseServer, desk: Desk, transport: str
) -> None:
    ticket = issue(server, "B")
    with listening(server.base_url, {"token": server.tokens[DISPLAY]}, transport=transport) as display:
        display.wait_for("state_snapshot")
        called = desk.call_next()
        announced = display.wait_for("ticket_called")
    assert called["number"] == ticket["number"]
    assert {key: announced[key] for key in ("number", "counter", "service", "recall", "called_at")} == {
        "number": ticket["number"],
        "counter": desk.number,
        "service": "B",
        "recall": False,
        "called_at": called["called_at"],
    }


def test_recall_is_announced_again_with_recall_true(server: CallwiseServer, desk: Desk, display: Listener) -> None:
    ticket = issue(server)
    desk.call_next()
    first = display.wait_for("ticket_called")
    desk.ok("recall")
    again = display.wait_for("ticket_called")
    assert first["recall"] is False
    assert again["recall"] is True
    assert (again["number"], again["counter"], again["service"]) == (ticket["number"], desk.number, "A")


def test_queue_changed_tells_displays_the_waiting_count_when_a_ticket_is_issued(
    server: CallwiseServer, desk: Desk, display: Listener
) -> None:
    before = waiting_counts(display.sync()["services"])
    issue(server, "A")
    change = display.wait_for("queue_changed")
    assert waiting_counts(change["services"]) == before | {"A": before["A"] + 1}
    # A wait is promised only where a staffed counter backs it.
    assert all(isinstance(s["estimated_wait_s"], int) == (s["staffed_counters"] > 0) for s in change["services"])

    issue(server, "B")
    after = waiting_counts(display.wait_for("queue_changed")["services"])
    assert after == before | {"A": before["A"] + 1, "B": before["B"] + 1}
    assert waiting_counts(server.get("/services").json()) == after


def test_display_does_not_hear_staff_only_events_but_the_teller_does(
    server: CallwiseServer, desk: Desk, display: Listener
) -> None:
    ticket = issue(server)
    with listening(server.base_url, {"token": server.tokens[TELLER]}) as teller:
        assert teller.wait_for("state_snapshot")["role"] == "teller"
        desk.call_next()
        assert teller.wait_for("counter_changed", lambda c: c["number"] == desk.number)["state"] == "calling"
        changed = teller.wait_for("ticket_changed", lambda t: t["number"] == ticket["number"])
        assert (changed["status"], changed["counter"]) == ("called", desk.number)
        assert "token" not in changed  # only the ticket's holder ever sees its token
        teller.wait_for("ticket_called", lambda c: c["number"] == ticket["number"])

    display.wait_for("ticket_called", lambda c: c["number"] == ticket["number"])
    display.sync()  # everything sent to the display before this round trip has arrived
    assert display.received("counter_changed") == []
    assert display.received("ticket_changed") == []


# --- a customer's phone page ----------------------------------------------------------------------


def test_phone_page_hears_its_own_ticket_called_and_not_anyone_elses(server: CallwiseServer, desk: Desk) -> None:
    first = issue(server, "A")
    mine = issue(server, "A")
    with listening(server.base_url, {"ticket": mine["token"]}) as phone:
        snapshot = phone.wait_for("state_snapshot")
        assert snapshot["role"] == "ticket"
        assert (snapshot["ticket"]["number"], snapshot["ticket"]["position"]) == (mine["number"], 2)

        assert desk.call_next()["number"] == first["number"]
        phone.sync()
        assert phone.received("ticket_called") == []
        assert [t["number"] for t in phone.received("ticket_changed") if t["number"] != mine["number"]] == []

        desk.finish()
        assert desk.call_next()["number"] == mine["number"]
        called = phone.wait_for("ticket_called")
        changed = phone.wait_for("ticket_changed")
    assert (called["number"], called["counter"], called["recall"]) == (mine["number"], desk.number, False)
    assert (changed["number"], changed["status"], changed["counter"]) == (mine["number"], "called", desk.number)
    assert all(event["number"] == mine["number"] for event in phone.received("ticket_called"))


def test_phone_page_hears_the_queue_move_and_then_sees_its_new_position(server: CallwiseServer, desk: Desk) -> None:
    first = issue(server, "A")
    mine = issue(server, "A")
    with listening(server.base_url, {"ticket": mine["token"]}) as phone:
        assert phone.wait_for("state_snapshot")["ticket"]["position"] == 2
        desk.call_next()
        moved = phone.wait_for("queue_changed")
        assert {"code", "waiting", "estimated_wait_s"} <= set(moved["services"][0])
        assert "tickets" not in moved  # counts only: nobody else's ticket reaches a phone
        assert phone.sync()["ticket"]["position"] == 1
    assert first["number"] != mine["number"]


def test_phone_page_connects_over_polling_too(server: CallwiseServer, desk: Desk) -> None:
    ticket = issue(server, "B")
    with listening(server.base_url, {"ticket": ticket["token"]}, transport="polling") as phone:
        assert phone.wait_for("state_snapshot")["ticket"]["status"] == "waiting"
        desk.call_next()
        assert phone.wait_for("ticket_called")["counter"] == desk.number


# --- refusals -------------------------------------------------------------------------------------


REFUSED = {
    "no auth": None,
    "empty auth": {},
    "a made-up token": {"token": "not-a-real-token"},
    "a well-formed unknown token": {"token": "x" * 43},
    "an unknown ticket token": {"ticket": "unknown-ticket-token-0123456789abcdef"},
    "a too-short ticket token": {"ticket": "short"},
    "a ticket token that is not text": {"ticket": 12345},
}


def test_clients_without_valid_credentials_are_refused(server: CallwiseServer) -> None:
    # The client library spends ~3 s closing each refused WebSocket (see Listener.disconnect), so
    # the attempts run side by side; each is still its own connection with its own verdict.
    logged_out = server.login(TELLER)
    assert server.post("/auth/logout", headers={"Authorization": f"Bearer {logged_out}"}).status_code == 200
    cases = {**REFUSED, "a teller's token after log-out": {"token": logged_out}}
    outcomes: dict[str, BaseException | None] = {}
    listeners = {case: Listener(server.base_url, auth) for case, auth in cases.items()}

    def attempt(case: str) -> None:
        try:
            listeners[case].connect()
            outcomes[case] = None
        except BaseException as exc:  # noqa: BLE001 - judged below
            outcomes[case] = exc

    threads = [threading.Thread(target=attempt, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(timeout=30)
        for case, listener in listeners.items():
            assert isinstance(outcomes.get(case), socketio.exceptions.ConnectionError), (case, outcomes.get(case))
            assert not listener.connected, case
            assert listener.received("state_snapshot") == [], case
    finally:
        for listener in listeners.values():
            listener.disconnect()


# --- reconnecting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_display_that_reconnects_gets_a_snapshot_with_what_happened_while_it_was_away(
    server: CallwiseServer, desk: Desk, transport: str
) -> None:
    display = Listener(server.base_url, {"token": server.tokens[DISPLAY]}, transport=transport).connect()
    try:
        display.wait_for("state_snapshot")
        display.disconnect()

        ticket = issue(server, "A")
        desk.call_next()

        display.connect()
        snapshot = display.wait_for("state_snapshot")
    finally:
        display.disconnect()
    assert display.received("ticket_called") == []  # it was away: the snapshot is how it catches up
    call = next(c for c in snapshot["recent_calls"] if c["number"] == ticket["number"])
    assert (call["counter"], call["status"], call["recall"]) == (desk.number, "called", False)
    counter = next(c for c in snapshot["counters"] if c["number"] == desk.number)
    assert (counter["state"], counter["current_ticket"]["number"]) == ("calling", ticket["number"])
