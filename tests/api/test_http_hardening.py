"""The HTTP side of issue 16, findings 8 and 10: log-in throttling per account, the session cookie,
log-in CSRF, cacheable answers, the CSP's connect-src, the shared manual clock, operator texts,
reused idempotency keys, and numbers that must be numbers in bodies and query strings."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from server import accounts
from server.clock import wall_now
from tests.api.test_tenancy import two, two_branches_db  # noqa: F401 - fixtures for the clock tests
from tests.conftest import PASSWORD, Api

LOGIN = "/api/v1/auth/login"


def _login(client: Any, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(LOGIN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


# --- finding 8: failed log-ins are throttled per account as well as per address ---------------------------


# Checked at the HTTP edge, before any query: the PostgreSQL run would repeat the SQLite one.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])


def test_guessing_one_password_from_many_addresses_is_throttled_per_account(app_factory, caplog):
    """Issue 16, finding 8: the per-address limit let a guesser with many addresses go on for ever."""
    app = app_factory(limits={"login_attempts_per_minute": 1000, "login_failures_per_account_per_15_minutes": 3})
    client = app.test_client()
    statuses = [_login(client, "manager", f"guess-{i}-wrong", f"10.0.1.{i}").status_code for i in range(3)]
    assert statuses == [401, 401, 401]
    refused = _login(client, "manager", "guess-4-wrong", "10.0.1.99")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "login_throttled"
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "log-in for 'manager' refused from 10.0.1.99: 3 failed log-ins for it within 15 minutes" in caplog.text
    # The right password is refused too while the account waits: else the limit would tell a guesser
    # which attempt was right. And nothing is set: no cookie, no token.
    right = _login(client, "manager", PASSWORD, "10.0.1.100")
    assert right.status_code == 429 and right.get_json()["error"]["code"] == "login_throttled"
    assert client.get_cookie("callwise_session") is None
    # Other accounts are not affected, from the same addresses.
    assert _login(client, "teller1", PASSWORD, "10.0.1.1").status_code == 200


def test_successful_log_ins_and_refused_bodies_do_not_spend_an_accounts_budget(app_factory):
    """A manager logging in on several screens, or junk bodies naming nobody, must not throttle anyone."""
    app = app_factory(limits={"login_attempts_per_minute": 1000, "login_failures_per_account_per_15_minutes": 2})
    client = app.test_client()
    assert [_login(client, "manager", PASSWORD).status_code for _ in range(5)] == [200] * 5
    junk = [
        client.post(LOGIN, data="[" * 30_000, content_type="application/json").status_code,
        client.post(LOGIN, json={"username": "manager"}).status_code,
        client.post(LOGIN, json={"username": "manager", "password": 12345678}).status_code,
        client.post(LOGIN, data="username=manager", content_type="text/plain").status_code,
    ]
    assert junk == [400, 422, 422, 415]
    assert _login(client, "manager", "wrong-password-1").status_code == 401
    assert _login(client, "manager", PASSWORD).status_code == 200  # one failure of two: still in


def test_the_per_address_limit_still_holds_beside_the_per_account_one(app_factory):
    app = app_factory(limits={"login_attempts_per_minute": 2, "login_failures_per_account_per_15_minutes": 100})
    client = app.test_client()
    statuses = [_login(client, f"teller{i}", "wrong-password-1", "10.0.2.1").status_code for i in (1, 2, 3)]
    assert statuses == [401, 401, 429]
    assert client.post(LOGIN, json={"username": "x", "password": "y"},
                       environ_base={"REMOTE_ADDR": "10.0.2.1"}).get_json()["error"]["code"] == "rate_limited"


# --- finding 10: the staff cookie is forgotten when the browser closes ---------------------------------------


@SQLITE_ONLY
def test_the_session_cookie_has_no_expiry_so_closing_the_browser_forgets_it(api):
    """Issue 16, finding 10: the cookie lived 12 hours past a closed tab (Expires set)."""
    response = api.client.post(LOGIN, json={"username": "manager", "password": PASSWORD})
    assert response.status_code == 200
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("callwise_session=")]
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert not any(part.startswith(("expires", "max-age")) for part in attributes), cookie
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes


def test_the_server_still_ends_a_cookie_session_after_the_token_lifetime(api, rt, monkeypatch):
    """No expiry in the browser does not mean for ever: the token inside expires on the server."""
    assert api.client.post(LOGIN, json={"username": "manager", "password": PASSWORD}).status_code == 200
    assert api.client.get("/api/v1/auth/me").status_code == 200
    later = wall_now() + timedelta(hours=rt.config.server.token_lifetime_hours, minutes=1)
    monkeypatch.setattr(accounts, "wall_now", lambda: later)
    assert api.client.get("/api/v1/auth/me").status_code == 401


# --- finding 10: log-in CSRF with a form from another site -----------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("content_type, data", [
    ("text/plain", '{"username": "manager", "password": "correct-horse-9"}'),
    ("application/x-www-form-urlencoded", "username=manager&password=correct-horse-9"),
    ("application/x-www-form-urlencoded", '{"username": "manager", "password": "correct-horse-9"}='),
])
def test_a_cross_site_form_cannot_log_a_browser_in(api, content_type, data):
    """Issue 16, finding 10: a form on another site posting text/plain that is JSON logged the browser in
    (to the attacker's account, so that the victim's later actions were recorded as theirs)."""
    response = api.client.post(LOGIN, data=data, content_type=content_type,
                               headers={"Origin": "https://evil.example", "Referer": "https://evil.example/x"})
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert not response.headers.getlist("Set-Cookie")
    assert api.client.get_cookie("callwise_session") is None
    assert api.client.get("/api/v1/auth/me").status_code == 401


# --- finding 10: answers carrying tokens are not cacheable -------------------------------------------------


def _no_store(response: Any) -> bool:
    return response.headers.get("Cache-Control") == "no-store" and response.headers.get("Pragma") == "no-cache"


@SQLITE_ONLY
def test_answers_with_tokens_or_secrets_are_never_stored_by_a_cache(api):
    """Issue 16, finding 10: the log-in answer (a bearer token) could be kept by a shared cache."""
    login = api.client.post(LOGIN, json={"username": "manager", "password": PASSWORD})
    assert login.status_code == 200 and _no_store(login)
    me = api.client.get("/api/v1/auth/me")
    assert "csrf_token" in me.get_json() and _no_store(me)
    issued = api.post("/tickets", "kiosk", json={"service": "A"})
    assert issued.status_code == 201 and "token" in issued.get_json() and _no_store(issued)
    assert _no_store(api.get(f"/tickets/{issued.get_json()['token']}"))
    # Every JSON answer of the API, errors included: live data is not for caches either.
    assert _no_store(api.get("/services"))
    assert _no_store(api.get("/queue", "teller1"))
    assert _no_store(api.client.post(LOGIN, json={"username": "manager", "password": "wrong-password"}))
    assert _no_store(api.get("/tickets/" + "x" * 20))


@SQLITE_ONLY
def test_files_meant_for_caching_keep_their_own_cache_headers(api):
    ticket = api.issue("A")
    qr = api.get(f"/tickets/{ticket['token']}/qr.svg")
    assert qr.headers["Cache-Control"] == "private, max-age=86400" and "Pragma" not in qr.headers
    assert api.client.get("/manager").headers["Cache-Control"] == "no-cache"


# --- finding 10: connect-src names the page's own origin only ---------------------------------------------


@SQLITE_ONLY
def test_pages_may_connect_only_to_their_own_origin(api):
    """Issue 16, finding 10: ``connect-src 'self' ws: wss:`` let a script open a websocket to any host.
    'self' covers the page's own ws:// and wss:// (CSP Level 3); tests/browser show the screens connect."""
    for page in ("/manager", "/counter", "/display", "/kiosk", "/"):
        policy = api.client.get(page).headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["connect-src"] == "'self'", (page, policy)
        assert "ws:" not in policy and "wss:" not in policy


# --- finding 10: the manual clock belongs to every branch a server serves -----------------------------------


def _clock(api: Api, who: str) -> str:
    response = api.get("/clock", who)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["now"])


@pytest.mark.parametrize("who", ["north-manager", "south-manager"])
def test_a_manager_of_one_branch_of_several_may_not_read_or_move_the_shared_clock(two, who):  # noqa: F811
    """Issue 16, finding 10: a manager of one branch moved every branch's clock (alerts, expiries)."""
    api, _ = two
    before = _clock(api, "root")
    moved = api.post("/clock/advance", who, json={"seconds": 3600})
    assert moved.status_code == 403 and moved.get_json()["error"]["code"] == "not_your_branch"
    read = api.get("/clock", who)
    assert read.status_code == 403 and read.get_json()["error"]["code"] == "not_your_branch"
    assert _clock(api, "root") == before
    assert api.post("/clock/advance", "north-teller", json={"seconds": 60}).status_code == 403


def test_an_admin_of_every_branch_moves_the_shared_clock(two):  # noqa: F811
    api, _ = two
    before = _clock(api, "root")
    assert api.post("/clock/advance", "root", json={"seconds": 60}).status_code == 200
    assert _clock(api, "root") > before


def test_with_one_branch_its_manager_keeps_the_clock(api):
    before = _clock(api, "manager")
    assert api.post("/clock/advance", "manager", json={"seconds": 60}).status_code == 200
    assert _clock(api, "manager") > before
    assert api.post("/clock/advance", "teller1", json={"seconds": 60}).status_code == 403


# --- finding 10: operator and customer texts: bounded, no controls, no bidi overrides -----------------------

BAD_TEXTS = {
    "right-to-left override": "pay A001\u202e100 ,1",
    "left-to-right embedding": "\u202aok",
    "pop directional": "ok\u202c",
    "first strong isolate": "\u2068note\u2069",
    "right-to-left isolate": "\u2067note",
    "nul": "a\x00b",
    "escape (terminal colours)": "\x1b[31mred",
    "carriage return": "over\rwrite",
    "delete": "a\x7fb",
    "next line (C1)": "a\x85b",
    "C1 CSI": "a\x9bb",
}


def _serving(api: Api) -> dict[str, Any]:
    """Counter 1 (teller1) serving A001; returns the ticket."""
    ticket = api.issue("A")
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    return ticket


def _finished(api: Api) -> dict[str, Any]:
    ticket = _serving(api)
    api.ok(1, "complete", json={"outcome": "done"})
    return ticket


def _instructed(api: Api) -> dict[str, Any]:
    api.open(1, "teller1")
    response = api.post("/counters/1/instruct", "manager", json={"kind": "come_to_desk"})
    assert response.status_code == 201
    return dict(response.get_json())


# (what to set up, then the request with the text in it as (path, who, body); fields of several lines?)
TEXT_FIELDS: dict[str, tuple[Any, Any, bool]] = {
    "hold note": (_serving, lambda made: ("/counters/1/hold", "teller1", {"note": "{text}"}), True),
    "transfer note": (_serving, lambda made: ("/counters/1/transfer", "teller1",
                                              {"service": "B", "note": "{text}"}), True),
    "help text": (_serving, lambda made: ("/counters/1/request-help", "teller1",
                                          {"reason": "other", "text": "{text}"}), True),
    "instruction text": (lambda api: api.open(1, "teller1"), lambda made: (
        "/counters/1/instruct", "manager", {"kind": "note", "text": "{text}"}), True),
    "instruction answer": (_instructed, lambda made: (f"/instructions/{made['id']}/ack", "teller1",
                                                      {"answer": "cannot", "text": "{text}"}), True),
    "complaint text": (lambda api: None, lambda made: ("/complaints", "teller1",
                                                       {"kind": "teller_error", "text": "{text}"}), True),
    "complaint subject": (lambda api: None, lambda made: (
        "/complaints", "teller1", {"kind": "teller_error", "text": "wrong form", "subject": "{text}"}), False),
    "rating comment": (_finished, lambda made: (f"/tickets/{made['token']}/rating", None,
                                                {"stars": 3, "comment": "{text}"}), True),
}
MAX_LENGTHS = {"complaint text": 1000, "complaint subject": 200}


def _with(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {key: text if value == "{text}" else value for key, value in body.items()}


def _state(api: Api) -> Any:
    """What the texts could have changed: counters, queue, instructions, complaints, alerts."""
    return [api.get(path, "manager").get_json() for path in ("/counters", "/queue", "/instructions", "/complaints",
                                                              "/alerts")]


@SQLITE_ONLY
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_every_free_text_refuses_control_and_bidi_characters_and_changes_nothing(api, field):
    """Issue 16, finding 10: texts accepted bidi overrides (a note reading differently on screen from
    what it says) and any control character."""
    setup, request, multiline = TEXT_FIELDS[field]
    made = setup(api)
    path, who, body = request(made)
    before = _state(api)
    bad = dict(BAD_TEXTS)
    if not multiline:
        bad.update({"newline": "two\nlines", "tab": "a\tb"})
    for i, (name, text) in enumerate(bad.items()):  # from several addresses: the rating is rate limited
        response = api.post(path, who, json=_with(body, text), environ_base={"REMOTE_ADDR": f"10.0.3.{i}"})
        assert response.status_code == 422, (field, name, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "bad_text", (field, name, error)
        assert "U+" in error["message"]
    assert _state(api) == before


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_every_free_text_has_a_length_limit(api, field):
    """Issue 16, finding 10: texts had no length limit at the HTTP edge."""
    setup, request, _ = TEXT_FIELDS[field]
    made = setup(api)
    path, who, body = request(made)
    before = _state(api)
    limit = MAX_LENGTHS.get(field, 500)
    response = api.post(path, who, json=_with(body, "x" * (limit + 1)))
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_field"
    assert _state(api) == before
    accepted = api.post(path, who, json=_with(body, "x" * limit))
    assert accepted.status_code in (200, 201), accepted.get_json()


def test_several_lines_tabs_and_any_language_are_still_fine(api):
    _serving(api)
    text = "客户要求\n第二行\tالعربية ok — “quoted” ✓"
    held = api.post("/counters/1/hold", "teller1", json={"note": text})
    assert held.status_code == 200, held.get_json()
    recorded = api.post("/complaints", "teller1", json={"kind": "teller_error", "text": text, "subject": "表格 A-1"})
    assert recorded.status_code == 201 and recorded.get_json()["text"] == text


@SQLITE_ONLY
def test_the_openapi_document_shows_each_texts_limit(api):
    schemas = api.get("/openapi.json").get_json()["paths"]
    hold = schemas["/counters/{number}/hold"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    [note] = [s for s in hold["properties"]["note"]["anyOf"] if s.get("type") == "string"]
    assert note["maxLength"] == 500 and "bidi" in note["description"]
    complaint = schemas["/complaints"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert complaint["properties"]["text"]["maxLength"] == 1000
    # The documented pattern refuses exactly what the server refuses (ECMA-262 reads ``$`` as the end).
    [subject] = [s for s in complaint["properties"]["subject"]["anyOf"] if s.get("type") == "string"]
    several, one = re.compile(note["pattern"]), re.compile(subject["pattern"])
    for code in [*range(0x300), *range(0x2000, 0x2100)]:
        accepted = api.post("/complaints", "teller1", json={"kind": "teller_error", "text": f"a{chr(code)}b",
                                                            "subject": f"a{chr(code)}b"}).status_code == 201
        assert accepted == bool(several.fullmatch(chr(code)) and one.fullmatch(chr(code))), hex(code)


# --- finding 10: an Idempotency-Key reused for another ticket -------------------------------------------------


def test_an_idempotency_key_reused_with_another_body_is_refused(api):
    """Issue 16, finding 10: the same key with another service silently returned the first ticket."""
    headers = {"Idempotency-Key": "kiosk-7:0001"}
    first = api.post("/tickets", "kiosk", json={"service": "A"}, headers=headers)
    assert first.status_code == 201
    for other in ({"service": "B"}, {"service": "A", "priority": True}, {"service": "A", "lang": "en"}):
        reused = api.post("/tickets", "kiosk", json=other, headers=headers)
        assert reused.status_code == 422, (other, reused.get_json())
        assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
        assert first.get_json()["number"] in reused.get_json()["error"]["message"]
    numbers = [t["number"] for s in api.get("/queue", "teller1").get_json()["services"] for t in s["tickets"]]
    assert numbers == ["A001"]  # nothing issued by the refused requests


def test_the_same_key_with_the_same_body_still_returns_the_first_ticket(api):
    headers = {"Idempotency-Key": "kiosk-7:0002"}
    first = api.post("/tickets", "kiosk", json={"service": "A", "lang": "zh"}, headers=headers)
    again = api.post("/tickets", "kiosk", json={"service": "A", "lang": "zh"}, headers=headers)
    default_lang = api.post("/tickets", "kiosk", json={"service": "A"}, headers=headers)  # zh is the default
    assert (first.status_code, again.status_code, default_lang.status_code) == (201, 200, 200)
    assert first.get_json()["token"] == again.get_json()["token"] == default_lang.get_json()["token"]


def test_a_retry_after_the_ticket_was_transferred_is_still_the_same_request(api):
    """The stored ticket's original service is compared: a transfer since does not make a retry new."""
    headers = {"Idempotency-Key": "kiosk-7:0003"}
    first = api.post("/tickets", "kiosk", json={"service": "A"}, headers=headers).get_json()
    api.open(1, "teller1")
    api.ok(1, "call-next")
    api.ok(1, "start")
    api.ok(1, "transfer", json={"service": "B"})
    again = api.post("/tickets", "kiosk", json={"service": "A"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["token"] == first["token"]


# --- finding 10: numbers are numbers, in bodies and in query strings ----------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("path, who, body", [
    ("/clock/advance", "manager", {"seconds": True}),
    ("/clock/advance", "manager", {"seconds": "60"}),
    ("/tickets/{token}/rating", None, {"stars": True}),
    ("/tickets/{token}/rating", None, {"stars": "5"}),
    ("/tickets/{token}/rating", None, {"stars": 5.0}),
    ("/tickets", "kiosk", {"service": "A", "priority": 1}),
    ("/tickets", "kiosk", {"service": "A", "priority": "true"}),
    ("/counters/1/instruct", "manager", {"kind": "serve_ticket", "ticket": "1"}),
    ("/complaints", "teller1", {"kind": "teller_error", "text": "x", "counter": True}),
])
def test_bodies_take_numbers_and_booleans_only_as_json_types(api, path, who, body):
    """Issue 16, finding 10: ``true`` and ``"60"`` passed as numbers."""
    ticket = _finished(api)
    before = _state(api)
    response = api.post(path.replace("{token}", ticket["token"]), who, json=body)
    assert response.status_code == 422, (path, body, response.get_json())
    assert response.get_json()["error"]["code"] == "invalid_field"
    assert _state(api) == before


@SQLITE_ONLY
@pytest.mark.parametrize("path", [
    "/ratings?limit=true", "/ratings?limit=1.0", "/ratings?limit=-1", "/ratings?limit=%EF%BC%95",
    "/reports/daily?date=true", "/reports/daily?date=20261130", "/reports/daily?date=2026-11-30T00:00",
    "/reports/daily.csv?lang=true", "/reports/daily.csv?table=1", "/complaints?from=1&to=2",
])
def test_query_parameters_take_only_their_own_form(api, path):
    response = api.get(path, "manager")
    assert response.status_code == 422, (path, response.get_json())
    assert response.get_json()["error"]["code"].startswith("bad_")


def test_the_display_name_type_for_names_shown_on_screens():
    """The admin API's staff and device names use the same type (server/api/common.py)."""
    from typing import Annotated

    from pydantic import Field, TypeAdapter, ValidationError

    from server.api.common import DisplayName

    names = TypeAdapter(DisplayName)
    assert names.validate_python("王小明 (Teller 3)") == "王小明 (Teller 3)"
    for bad in ("", "x" * 129, "Ann\u202eeb", "two\nlines", "tab\there", "bell\x07"):
        with pytest.raises(ValidationError):
            names.validate_python(bad)
    devices = TypeAdapter(Annotated[DisplayName, Field(max_length=64)])
    assert devices.validate_python("x" * 64) == "x" * 64
    with pytest.raises(ValidationError):
        devices.validate_python("x" * 65)
