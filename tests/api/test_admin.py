"""Issue 16, finding 3: a stolen kiosk or a departing employee can be revoked or disabled.

The admin API (/api/v1/admin/...) lists, adds, disables, enables, resets, re-roles and revokes; a
disabled account's tokens and a revoked device's token stop working at once, with their open sockets;
refusals change nothing; every change is in the audit log; last seen is noted at most once a minute.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from server import accounts
from server.accounts import ByWhom
from server.errors import Conflict
from server.models import AuditEntry, Device, Staff
from server.realtime import socketio
from tests.conftest import PASSWORD

ADMIN = "admin"


def staff_id(rt: Any, username: str) -> int:
    with rt.reading() as session:
        return int(session.scalar(select(Staff.id).where(Staff.username == username)))


def device_id(rt: Any, name: str) -> int:
    with rt.reading() as session:
        return int(session.scalar(select(Device.id).where(Device.name == name)))


def audit_count(rt: Any) -> int:
    with rt.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)))


def login(api: Any, username: str, password: str = PASSWORD) -> Any:
    fresh = api.client.application.test_client()
    return fresh.post("/api/v1/auth/login", json={"username": username, "password": password})


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


# --- who may --------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/admin/staff", None),
    ("post", "/admin/staff", {"username": "new.teller", "role": "teller"}),
    ("post", "/admin/staff/{teller}/disable", None),
    ("post", "/admin/staff/{teller}/enable", None),
    ("post", "/admin/staff/{teller}/password", None),
    ("post", "/admin/staff/{teller}/role", {"role": "manager"}),
    ("get", "/admin/devices", None),
    ("post", "/admin/devices", {"name": "door 2", "kind": "kiosk"}),
    ("post", "/admin/devices/{kiosk}/revoke", None),
    ("get", "/admin/audit", None),
]


# Refused before anything is read or written (the role is checked first): one backend is enough for
# the 50 combinations; the flows below run on both.
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("method, path, body", ENDPOINTS)
@pytest.mark.parametrize("who, status", [(None, 401), ("teller2", 403), ("manager", 403), ("kiosk2", 403),
                                         ("display", 403)])
def test_only_admins_may_use_the_admin_api_and_refusals_change_nothing(api, rt, method, path, body, who, status):
    before = audit_count(rt)
    url = path.format(teller=staff_id(rt, "teller1"), kiosk=device_id(rt, "kiosk"))
    response = getattr(api, method)(url, who=who, json=body)
    assert response.status_code == status, response.get_json()
    assert set(response.get_json()["error"]) == {"code", "message"}
    assert audit_count(rt) == before
    ok(api.get("/queue", who="teller1"))  # teller1 still logged in
    api.issue("A")  # the kiosk still works


def test_a_cookie_session_of_an_admin_needs_the_csrf_header(api, rt):
    client = api.client.application.test_client()
    body = ok(client.post("/api/v1/auth/login", json={"username": ADMIN, "password": PASSWORD}))
    teller = staff_id(rt, "teller1")
    refused = client.post(f"/api/v1/admin/staff/{teller}/disable")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    ok(client.get("/api/v1/admin/staff"))
    ok(client.post(f"/api/v1/admin/staff/{teller}/disable", headers={"X-CSRF-Token": body["csrf_token"]}))


# --- lists ----------------------------------------------------------------------------------------------


def test_staff_list_shows_role_branch_state_and_last_seen(api):
    rows = {row["username"]: row for row in ok(api.get("/admin/staff", who=ADMIN))}
    assert set(rows) == {"teller1", "teller2", "teller3", "teller4", "manager", "admin"}
    assert rows["teller1"]["role"] == "teller" and rows["teller1"]["branch"] == "test"
    assert rows["admin"]["branch"] is None
    assert rows["admin"]["last_seen_at"] is not None  # it just asked
    assert {row["state"] for row in rows.values()} == {"active"}
    assert all(row["demo"] is False for row in rows.values())
    assert "password_hash" not in rows["teller1"]


def test_device_list_shows_kind_branch_state_and_last_seen(api):
    api.issue("A")
    rows = {row["name"]: row for row in ok(api.get("/admin/devices", who=ADMIN))}
    assert set(rows) == {"kiosk", "kiosk2", "display"}
    assert rows["kiosk"]["kind"] == "kiosk" and rows["kiosk"]["state"] == "active"
    assert rows["kiosk"]["last_seen_at"] is not None
    assert rows["display"]["last_seen_at"] is None
    assert "token_hash" not in rows["kiosk"]


def test_lists_filter_by_branch_and_an_unknown_branch_is_404(api):
    assert len(ok(api.get("/admin/devices?branch=test", who=ADMIN))) == 3
    response = api.get("/admin/staff?branch=nowhere", who=ADMIN)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_branch"


# --- disable and enable ------------------------------------------------------------------------------------


def test_a_disabled_account_cannot_log_in_and_its_token_gets_401_at_once(api, rt):
    teller = staff_id(rt, "teller1")
    ok(api.get("/queue", who="teller1"))
    row = ok(api.post(f"/admin/staff/{teller}/disable", who=ADMIN))
    assert row["state"] == "disabled"
    response = api.get("/queue", who="teller1")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "bad_token"
    assert login(api, "teller1").status_code == 401
    [entry] = ok(api.get("/admin/audit?limit=1", who=ADMIN))
    assert (entry["action"], entry["target"], entry["actor"], entry["via"]) == \
        ("staff_disabled", "teller1", "admin", "api")
    assert entry["detail"]["log_ins_ended"] == 1


def test_an_enabled_account_logs_in_again_but_its_old_tokens_stay_ended(api, rt):
    teller = staff_id(rt, "teller1")
    ok(api.post(f"/admin/staff/{teller}/disable", who=ADMIN))
    assert ok(api.post(f"/admin/staff/{teller}/enable", who=ADMIN))["state"] == "active"
    assert login(api, "teller1").status_code == 200
    assert api.get("/queue", who="teller1").status_code == 401
    assert [e["action"] for e in ok(api.get("/admin/audit", who=ADMIN))[:2]] == ["staff_enabled", "staff_disabled"]


@pytest.mark.parametrize("target, code", [("admin", "own_account")])
def test_an_admin_cannot_disable_or_demote_themselves(api, rt, target, code):
    before = audit_count(rt)
    me = staff_id(rt, target)
    for path, body in ((f"/admin/staff/{me}/disable", None), (f"/admin/staff/{me}/role", {"role": "manager"})):
        response = api.post(path, who=ADMIN, json=body)
        assert response.status_code == 409 and response.get_json()["error"]["code"] == code
    assert audit_count(rt) == before
    ok(api.get("/admin/staff", who=ADMIN))


def test_the_last_active_admin_cannot_be_disabled_or_demoted(rt):
    before = audit_count(rt)
    by = ByWhom(via="cli", name="root")
    with pytest.raises(Conflict) as refused:
        accounts.disable_staff(rt, "admin", by)
    assert refused.value.code == "last_admin"
    with pytest.raises(Conflict) as demoted:
        accounts.set_role(rt, "admin", "manager", by)
    assert demoted.value.code == "last_admin"
    assert audit_count(rt) == before
    with rt.reading() as session:
        admin = session.scalar(select(Staff).where(Staff.username == "admin"))
        assert admin.active and admin.role == "admin"


def test_with_a_second_admin_one_may_disable_the_other(api, rt):
    added = ok(api.post("/admin/staff", who=ADMIN, json={"username": "admin2", "role": "admin"}), 201)
    token = ok(login(api, "admin2", added["password"]))["token"]
    api.tokens = {**api.tokens, "admin2": token}  # a copy: the template's dict is shared
    ok(api.post(f"/admin/staff/{staff_id(rt, 'admin')}/disable", who="admin2"))
    assert api.get("/admin/staff", who=ADMIN).status_code == 401
    # admin2 is now the last active admin: nobody may take that away from the command line either
    with pytest.raises(Conflict):
        accounts.disable_staff(rt, "admin2", ByWhom(via="cli", name="root"))


def test_unknown_accounts_and_devices_are_404_and_repeats_409(api, rt):
    before = audit_count(rt)
    for path in ("/admin/staff/999999/disable", "/admin/staff/999999/enable", "/admin/staff/999999/password",
                 "/admin/devices/999999/revoke", f"/admin/staff/{2**63}/disable"):
        response = api.post(path, who=ADMIN)
        assert response.status_code == 404, path
    response = api.post("/admin/staff/999999/role", who=ADMIN, json={"role": "teller"})
    assert response.get_json()["error"]["code"] == "unknown_staff"
    teller = staff_id(rt, "teller1")
    assert api.post(f"/admin/staff/{teller}/enable", who=ADMIN).get_json()["error"]["code"] == "already_active"
    assert audit_count(rt) == before


# --- passwords and roles ----------------------------------------------------------------------------------


def test_a_reset_generates_a_strong_password_shown_once_and_ends_every_log_in(api, rt):
    teller = staff_id(rt, "teller1")
    response = api.post(f"/admin/staff/{teller}/password", who=ADMIN)
    body = ok(response)
    assert response.headers["Cache-Control"] == "no-store"
    password = body["password"]
    assert len(password) == 19 and accounts.password_problem(password, "teller1") is None
    assert api.get("/queue", who="teller1").status_code == 401
    assert login(api, "teller1").status_code == 401
    assert login(api, "teller1", password).status_code == 200
    [entry] = ok(api.get("/admin/audit?limit=1", who=ADMIN))
    assert entry["action"] == "password_reset" and entry["detail"]["generated"] is True
    assert password not in str(entry)
    with rt.reading() as session:
        assert password not in session.scalar(select(Staff.password_hash).where(Staff.id == teller))


def test_a_password_the_admin_gives_must_pass_the_policy(api, rt):
    teller = staff_id(rt, "teller1")
    before = audit_count(rt)
    weak = api.post(f"/admin/staff/{teller}/password", who=ADMIN, json={"password": "1234567890"})
    assert weak.status_code == 422 and weak.get_json()["error"]["code"] == "weak_password"
    assert audit_count(rt) == before
    ok(api.get("/queue", who="teller1"))
    chosen = ok(api.post(f"/admin/staff/{teller}/password", who=ADMIN, json={"password": "river-lamp-7-oak"}))
    assert chosen["password"] is None  # not echoed back
    assert login(api, "teller1", "river-lamp-7-oak").status_code == 200


def test_a_role_change_ends_the_log_ins_and_is_audited(api, rt):
    teller = staff_id(rt, "teller1")
    row = ok(api.post(f"/admin/staff/{teller}/role", who=ADMIN, json={"role": "manager"}))
    assert (row["role"], row["branch"]) == ("manager", "test")
    assert api.get("/queue", who="teller1").status_code == 401
    new_token = ok(login(api, "teller1"))["token"]
    api.tokens = {**api.tokens, "teller1": new_token}  # a copy: the template's dict is shared
    ok(api.get("/alerts", who="teller1"))  # a manager's endpoint
    [entry] = ok(api.get("/admin/audit?limit=1", who=ADMIN))
    assert entry["action"] == "role_changed" and entry["detail"]["role"] == ["teller", "manager"]
    promoted = ok(api.post(f"/admin/staff/{teller}/role", who=ADMIN, json={"role": "admin"}))
    assert promoted["branch"] is None


@pytest.mark.parametrize("body, code", [({"role": "boss"}, "invalid_field"), ({}, "invalid_field"),
                                        ({"role": "teller"}, "unchanged"),
                                        ({"role": "manager", "branch": "nowhere"}, "unknown_branch")])
def test_bad_role_changes_are_refused_and_change_nothing(api, rt, body, code):
    teller = staff_id(rt, "teller1")
    before = audit_count(rt)
    response = api.post(f"/admin/staff/{teller}/role", who=ADMIN, json=body)
    assert response.status_code in (404, 409, 422) and response.get_json()["error"]["code"] == code
    assert audit_count(rt) == before
    ok(api.get("/queue", who="teller1"))


def test_the_service_refuses_an_unknown_role_with_422(rt):
    from server.errors import Invalid

    with pytest.raises(Invalid) as refused:
        accounts.set_role(rt, "teller1", "boss", ByWhom(via="cli", name="root"))
    assert refused.value.status == 422 and refused.value.code == "unknown_role"


def test_adding_an_account_answers_the_generated_password_once(api, rt):
    response = api.post("/admin/staff", who=ADMIN, json={"username": "wang.fang", "name": "王芳", "role": "teller"})
    body = ok(response, 201)
    assert response.headers["Cache-Control"] == "no-store"
    assert body["staff"]["name"] == "王芳" and body["staff"]["branch"] == "test"
    assert login(api, "wang.fang", body["password"]).status_code == 200
    again = api.post("/admin/staff", who=ADMIN, json={"username": "wang.fang", "role": "teller"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "username_taken"
    weak = api.post("/admin/staff", who=ADMIN, json={"username": "li", "role": "teller", "password": "password"})
    assert weak.status_code == 422
    assert api.post("/admin/staff", who=ADMIN, json={"username": "x y", "role": "teller"}).status_code == 422


# --- devices --------------------------------------------------------------------------------------------


def test_a_revoked_device_token_gets_401_at_once(api, rt):
    kiosk = device_id(rt, "kiosk")
    api.issue("A")
    row = ok(api.post(f"/admin/devices/{kiosk}/revoke", who=ADMIN))
    assert row["state"] == "revoked" and row["revoked_at"]
    response = api.post("/tickets", who="kiosk", json={"service": "A"})
    assert response.status_code == 401
    again = api.post(f"/admin/devices/{kiosk}/revoke", who=ADMIN)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_revoked"
    [entry] = ok(api.get("/admin/audit?limit=1", who=ADMIN))
    assert (entry["action"], entry["target_kind"], entry["target"], entry["branch"]) == \
        ("device_revoked", "device", "kiosk", "test")


def test_adding_a_device_answers_its_token_once_with_the_pairing_url_and_qr_code(api, rt):
    response = api.post("/admin/devices", who=ADMIN, json={"name": "Door kiosk", "kind": "kiosk"})
    body = ok(response, 201)
    assert response.headers["Cache-Control"] == "no-store"
    assert body["pairing_url"] == f"http://callwise.test/kiosk?device={body['token']}"
    assert body["replaced"] is False and body["device"]["state"] == "active"
    svg = base64.b64decode(body["qr_svg"].removeprefix("data:image/svg+xml;base64,"))
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    api.tokens = {**api.tokens, "door": body["token"]}  # a copy: the template's dict is shared
    ok(api.post("/tickets", who="door", json={"service": "A"}), 201)
    entry = ok(api.get("/admin/audit?limit=1", who=ADMIN))[0]
    assert entry["action"] == "device_added" and body["token"] not in str(entry)


def test_re_adding_a_device_replaces_its_token_and_a_revoked_one_comes_back(api, rt):
    kiosk = device_id(rt, "kiosk")
    ok(api.post(f"/admin/devices/{kiosk}/revoke", who=ADMIN))
    body = ok(api.post("/admin/devices", who=ADMIN, json={"name": "kiosk", "kind": "kiosk"}), 201)
    assert body["replaced"] is True and body["device"]["state"] == "active"
    assert api.post("/tickets", who="kiosk", json={"service": "A"}).status_code == 401  # the old token
    api.tokens = {**api.tokens, "kiosk": body["token"]}  # a copy: the template's dict is shared
    api.issue("A")
    wrong_kind = api.post("/admin/devices", who=ADMIN, json={"name": "kiosk", "kind": "display"})
    assert wrong_kind.status_code == 409


@pytest.mark.parametrize("body", [{"name": "", "kind": "kiosk"}, {"name": "x", "kind": "printer"},
                                  {"name": "x" * 65, "kind": "kiosk"}, {"name": "x", "kind": "kiosk", "extra": 1}])
def test_bad_device_bodies_are_422(api, rt, body):
    before = audit_count(rt)
    assert api.post("/admin/devices", who=ADMIN, json=body).status_code == 422
    assert audit_count(rt) == before


# --- the audit log --------------------------------------------------------------------------------------


def test_the_audit_log_pages_newest_first(api, rt):
    for username in ("teller1", "teller2", "teller3"):
        ok(api.post(f"/admin/staff/{staff_id(rt, username)}/disable", who=ADMIN))
    first = ok(api.get("/admin/audit?limit=2", who=ADMIN))
    assert [e["target"] for e in first] == ["teller3", "teller2"]
    rest = ok(api.get(f"/admin/audit?limit=2&before={first[-1]['id']}", who=ADMIN))
    assert [e["target"] for e in rest] == ["teller1"]
    for bad in ("limit=0", "limit=501", "limit=x", "before=0", f"before={10**30}", "limit=-1"):
        response = api.get(f"/admin/audit?{bad}", who=ADMIN)
        assert response.status_code == 422, bad


# --- last seen -------------------------------------------------------------------------------------------


def test_last_seen_is_noted_at_most_once_a_minute(api, rt, monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    monkeypatch.setattr(accounts, "wall_now", lambda: now)

    def seen() -> tuple[Any, Any]:
        with rt.reading() as session:
            return (session.scalar(select(Staff.last_seen_at).where(Staff.username == "teller1")),
                    session.scalar(select(Device.last_seen_at).where(Device.name == "display")))

    assert seen() == (None, None)
    ok(api.get("/queue", who="teller1"))
    ok(api.get("/counters", who="display"))
    assert seen() == (now, now)
    first = now
    now += timedelta(seconds=59)
    ok(api.get("/queue", who="teller1"))
    ok(api.get("/counters", who="display"))
    assert seen() == (first, first)
    now += timedelta(seconds=1)
    ok(api.get("/queue", who="teller1"))
    assert seen() == (now, first)


def test_noting_last_seen_writes_nothing_within_the_minute(api, rt, monkeypatch):
    ok(api.get("/queue", who="teller1"))
    writes = []
    original = rt.db.writing

    def counting() -> Any:
        writes.append(1)
        return original()

    monkeypatch.setattr(rt.db, "writing", counting)
    for _ in range(5):
        ok(api.get("/queue", who="teller1"))
    assert writes == []


# --- sockets ---------------------------------------------------------------------------------------------


def test_a_disabled_tellers_socket_is_disconnected_at_once(app, api, rt):
    teller = socketio.test_client(app, auth={"token": api.tokens["teller1"]})
    other = socketio.test_client(app, auth={"token": api.tokens["teller2"]})
    assert teller.is_connected() and other.is_connected()
    ok(api.post(f"/admin/staff/{staff_id(rt, 'teller1')}/disable", who=ADMIN))
    assert not teller.is_connected()
    assert other.is_connected()
    other.disconnect()


def test_a_revoked_displays_socket_is_disconnected_at_once(app, api, rt):
    display = socketio.test_client(app, auth={"token": api.tokens["display"]})
    kiosk = socketio.test_client(app, auth={"token": api.tokens["kiosk"]})
    assert display.is_connected() and kiosk.is_connected()
    ok(api.post(f"/admin/devices/{device_id(rt, 'display')}/revoke", who=ADMIN))
    assert not display.is_connected()
    refused = socketio.test_client(app, auth={"token": api.tokens["display"]})
    assert not refused.is_connected()
    assert kiosk.is_connected()
    kiosk.disconnect()


def test_a_reset_password_and_a_replaced_device_token_end_their_sockets(app, api, rt):
    teller = socketio.test_client(app, auth={"token": api.tokens["teller1"]})
    kiosk = socketio.test_client(app, auth={"token": api.tokens["kiosk"]})
    ok(api.post(f"/admin/staff/{staff_id(rt, 'teller1')}/password", who=ADMIN))
    ok(api.post("/admin/devices", who=ADMIN, json={"name": "kiosk", "kind": "kiosk"}), 201)
    assert not teller.is_connected() and not kiosk.is_connected()


def test_a_socket_connect_notes_last_seen(app, api, rt):
    display = socketio.test_client(app, auth={"token": api.tokens["display"]})
    assert display.is_connected()
    with rt.reading() as session:
        assert session.scalar(select(Device.last_seen_at).where(Device.name == "display")) is not None
    display.disconnect()


@pytest.mark.parametrize("path, body", [
    ("/admin/devices", {"name": "door\u0000kiosk", "kind": "kiosk"}),
    ("/admin/devices", {"name": "\u202eksoik", "kind": "kiosk"}),  # a bidi override: shows another name
    ("/admin/devices", {"name": "two\nlines", "kind": "kiosk"}),
    ("/admin/staff", {"username": "wang", "name": "Wang\u0000", "role": "teller"}),
    ("/admin/staff", {"username": "wang\u0000", "role": "teller"}),
])
def test_names_with_control_characters_are_422_never_a_500(api, rt, path, body):
    before = audit_count(rt)
    response = api.post(path, who=ADMIN, json=body)
    assert response.status_code == 422, response.get_json()
    assert audit_count(rt) == before


@pytest.mark.parametrize("code", ["no-pe", "UPPER", "x" * 40])
def test_a_branch_code_no_config_can_have_is_404(api, code):
    response = api.get(f"/admin/staff?branch={code}", who=ADMIN)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_branch"
    refused = api.post("/admin/devices", who=ADMIN, json={"name": "x", "kind": "kiosk", "branch": code[:32]})
    assert refused.status_code == 404


def test_a_branch_code_holding_nul_is_refused_before_any_lookup(api, rt):
    before = audit_count(rt)
    response = api.get("/admin/staff?branch=no%00pe", who=ADMIN)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "nul_character"
    refused = api.post("/admin/devices", who=ADMIN, json={"name": "x", "kind": "kiosk", "branch": "no\x00pe"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "bad_text"
    assert audit_count(rt) == before


def test_a_generated_password_never_contains_the_username():
    for _ in range(200):
        assert "abc" not in accounts.generate_password("abc")


def test_a_database_that_cannot_note_last_seen_fails_no_request_and_is_not_retried_each_time(api, rt, monkeypatch):
    from sqlalchemy.exc import OperationalError

    attempts = []

    def full_disk() -> Any:
        attempts.append(1)
        raise OperationalError("UPDATE staff", {}, Exception("database or disk is full"))

    monkeypatch.setattr(rt.db, "writing", full_disk)
    for _ in range(3):
        ok(api.get("/queue", who="teller1"))
    assert attempts == [1]
