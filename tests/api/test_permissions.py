"""Who may call what: every endpoint of API.md's HTTP table, with each role that may and may not."""

from __future__ import annotations

import pytest

from tests.api.test_counters import snapshot

ALL = ["anonymous", "kiosk", "display", "teller1", "manager", "admin"]


def who(name: str) -> str | None:
    return None if name == "anonymous" else name


@pytest.mark.parametrize("caller", ALL)
def test_anyone_lists_services(api, caller):
    assert api.get("/services", who(caller)).status_code == 200


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("display", 403), ("teller1", 201), ("manager", 201), ("admin", 201), ("kiosk", 201),
])
@pytest.mark.parametrize("priority", [False, True])
def test_kiosks_and_staff_issue_tickets_priority_ones_too(api, rt, caller, status, priority):
    before = snapshot(rt)
    response = api.post("/tickets", who(caller), json={"service": "A", "priority": priority})
    assert response.status_code == status
    if status != 201:
        assert "error" in response.get_json()
        assert snapshot(rt) == before
    else:
        assert response.get_json()["priority"] is priority


@pytest.mark.parametrize("caller", ALL)
def test_anyone_holding_the_token_follows_a_ticket(api, caller):
    token = api.issue("A")["token"]
    response = api.get(f"/tickets/{token}", who(caller))
    assert response.status_code == 200
    assert response.get_json()["token"] == token


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller1", 200), ("manager", 200), ("admin", 200),
])
def test_only_staff_see_the_queue(api, caller, status):
    assert api.get("/queue", who(caller)).status_code == status


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 200), ("teller1", 200), ("manager", 200), ("admin", 200),
])
def test_staff_and_displays_list_counters(api, caller, status):
    assert api.get("/counters", who(caller)).status_code == status


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller1", 200), ("manager", 200), ("admin", 200),
])
def test_staff_sign_in_at_a_counter(api, rt, caller, status):
    before = snapshot(rt)
    assert api.act(2, "open", who(caller)).status_code == status
    if status != 200:
        assert snapshot(rt) == before


# action -> the steps (by teller1 at counter 1; "wait": the no-show grace passes) that make it valid,
# and its body (a function of the waiting ticket's id, for those that name it)
COUNTER_ACTIONS = {
    "call-next": ([], None),
    "call": ([], lambda ticket: {"ticket": ticket}),
    "recall": (["call-next"], None),
    "start": (["call-next"], None),
    "no-show": (["call-next", "wait"], None),
    "hold": (["call-next"], {"note": "fetching the ID card"}),
    "undo": (["call-next", "start", "complete"], None),
    "transfer": (["call-next"], {"service": "C"}),
    "request-help": (["call-next"], None),
    "complete": (["call-next", "start"], {"outcome": "done"}),
    "pause": ([], {"reason": "break"}),
    "resume": (["pause"], None),
    "close": ([], None),
}


def prepare(api, steps, body):  # type: ignore[no-untyped-def]
    """Make the steps; the action's body (for ``call``, naming the waiting ticket)."""
    ticket = api.issue("A")["id"]
    api.open(1, "teller1")
    api.open(2, "teller2")
    for step in steps:
        if step == "wait":
            api.advance(60)
        else:
            api.ok(1, step, "teller1", {"reason": "break"} if step == "pause" else None)
    return body(ticket) if callable(body) else body


@pytest.mark.parametrize("action", COUNTER_ACTIONS)
def test_counter_actions_refuse_everyone_but_its_teller_and_managers(api, rt, action):
    steps, body = COUNTER_ACTIONS[action]
    body = prepare(api, steps, body)
    before = snapshot(rt)
    for caller, status, code in [
        ("anonymous", 401, "login_required"),
        ("kiosk", 403, "staff_only"),
        ("display", 403, "staff_only"),
        ("teller2", 403, "not_your_counter"),
    ]:
        response = api.act(1, action, who(caller), body)
        assert response.status_code == status, (caller, response.get_json())
        assert response.get_json()["error"]["code"] == code
        assert snapshot(rt) == before
    response = api.client.post(f"/api/v1/counters/1/{action}", json=body,
                               headers={"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 401
    assert snapshot(rt) == before


@pytest.mark.parametrize("caller", ["teller1", "manager", "admin"])
@pytest.mark.parametrize("action", COUNTER_ACTIONS)
def test_counter_actions_are_allowed_to_its_teller_and_managers(api, action, caller):
    steps, body = COUNTER_ACTIONS[action]
    body = prepare(api, steps, body)
    response = api.act(1, action, caller, body)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(("caller", "status"), [
    ("anonymous", 401), ("kiosk", 403), ("display", 403), ("teller1", 403), ("manager", 200), ("admin", 200),
])
def test_only_managers_read_and_move_the_manual_clock(api, clock, caller, status):
    before = clock.now()
    assert api.get("/clock", who(caller)).status_code == status
    response = api.post("/clock/advance", who(caller), json={"seconds": 30})
    assert response.status_code == status
    moved = (clock.now() - before).total_seconds()
    assert moved == (30 if status == 200 else 0)


def test_clock_endpoints_do_not_exist_with_the_system_clock(app_factory, fresh_db):
    from tests.conftest import Api

    app = app_factory(clock={"mode": "system"})
    api = Api(app.test_client(), fresh_db.tokens)
    assert api.get("/clock", "manager").status_code == 404
    assert api.post("/clock/advance", "manager", json={"seconds": 5}).status_code == 404


def test_clock_advance_validates_seconds(api, clock):
    before = clock.now()
    for body in ({"seconds": -5}, {"seconds": "soon"}, {}, {"seconds": 10**9}):
        assert api.post("/clock/advance", "manager", json=body).status_code == 422
    assert clock.now() == before


def test_another_branch_is_off_limits_to_branch_staff(api):
    assert api.get("/queue?branch=elsewhere", "teller1").status_code == 404
