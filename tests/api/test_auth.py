"""Log-in, tokens, the session cookie with its CSRF header, and rate limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.accounts import hash_token
from server.models import AuthToken, Device, Staff
from tests.conftest import PASSWORD, Api


def login(api, username="teller1", password=PASSWORD):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_returns_a_bearer_token_that_works(api):
    response = login(api)
    assert response.status_code == 200
    body = response.get_json()
    assert body["staff"]["role"] == "teller"
    fresh = api.client.application.test_client()  # no cookie
    answer = fresh.get("/api/v1/queue", headers={"Authorization": f"Bearer {body['token']}"})
    assert answer.status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(api):
    wrong = login(api, password="nope-nope-nope")
    unknown = login(api, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert "callwise_session" not in wrong.headers.get("Set-Cookie", "")


def test_passwords_and_tokens_are_stored_only_as_hashes(api, rt, fresh_db):
    token = login(api).get_json()["token"]
    with rt.reading() as session:
        staff = session.scalar(select(Staff).where(Staff.username == "teller1"))
        assert PASSWORD not in staff.password_hash
        assert staff.password_hash.startswith(("scrypt:", "pbkdf2:"))
        stored = [t.token_hash for t in session.scalars(select(AuthToken))]
        assert token not in stored
        assert hash_token(token) in stored
        kiosk = session.scalar(select(Device).where(Device.name == "kiosk"))
        assert kiosk.token_hash == hash_token(fresh_db.tokens["kiosk"])


def test_the_session_cookie_works_for_reads_and_needs_the_csrf_header_for_changes(api):
    body = login(api).get_json()
    client = api.client  # keeps the cookie set by the log-in
    assert client.get("/api/v1/queue").status_code == 200
    refused = client.post("/api/v1/counters/1/open")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/counters/1/open", headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    accepted = client.post("/api/v1/counters/1/open", headers={"X-CSRF-Token": body["csrf_token"]})
    assert accepted.status_code == 200
    assert client.get("/api/v1/auth/me").get_json()["csrf_token"] == body["csrf_token"]


def test_session_cookie_is_httponly_and_samesite(api):
    cookie = login(api).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_logout_ends_the_token_at_once(api):
    token = login(api).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    fresh = api.client.application.test_client()
    assert fresh.post("/api/v1/auth/logout", headers=headers).status_code == 200
    assert fresh.get("/api/v1/queue", headers=headers).status_code == 401


def test_a_new_password_ends_existing_log_ins(api, rt):
    from server.accounts import save_staff

    token = login(api).get_json()["token"]
    save_staff(rt, "teller1", "teller", "another-password-1")
    fresh = api.client.application.test_client()
    assert fresh.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert login(api, password="another-password-1").status_code == 200


def test_malformed_authorization_header_is_401(api):
    response = api.client.get("/api/v1/queue", headers={"Authorization": "Basic dGVsbGVy"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_authorization"


def test_me_says_who_a_device_is(api):
    me = api.get("/auth/me", "display").get_json()
    assert (me["kind"], me["role"]) == ("device", "display")
    assert api.get("/auth/me").status_code == 401


def test_login_attempts_are_rate_limited_per_address(app_factory, fresh_db):
    app = app_factory(limits={"login_attempts_per_minute": 3})
    client = app.test_client()
    statuses = [
        client.post("/api/v1/auth/login", json={"username": "teller1", "password": "wrong-wrong"}).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    limited = client.post("/api/v1/auth/login", json={"username": "teller1", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password waits: that is what stops guessing
    assert limited.get_json()["error"]["code"] == "rate_limited"


def test_ticket_issuing_is_rate_limited_per_kiosk(app_factory, fresh_db):
    app = app_factory(limits={"kiosk_tickets_per_minute": 2})
    api = Api(app.test_client(), fresh_db.tokens)
    statuses = [api.post("/tickets", "kiosk", json={"service": "A"}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert api.post("/tickets", "kiosk2", json={"service": "A"}).status_code == 201  # its own budget
    numbers = [t["number"] for t in api.get("/queue", "teller1").get_json()["services"][0]["tickets"]]
    assert numbers == ["A001", "A002", "A003"]  # the refused request took no number


# --- the password policy (issue 16, finding 8) -------------------------------------------------------------


@pytest.mark.parametrize("weak", ["12345678", "password", "password123", "teller1", "Teller1-at-desk", " " * 8,
                                  "x" * 100_000, "1234567890", "aaaaaaaaaaaa"])
def test_a_weak_password_is_refused_with_422_and_the_old_one_keeps_working(api, rt, weak):
    from server.accounts import save_staff
    from server.errors import Invalid

    with pytest.raises(Invalid) as refused:
        save_staff(rt, "teller1", "teller", weak)
    assert (refused.value.status, refused.value.code) == (422, "weak_password")
    assert login(api).status_code == 200


def test_the_longest_password_accepted_can_log_in(api, rt):
    from server.accounts import save_staff
    from server.errors import Invalid
    from server.passwords import MAX_LENGTH

    longest = ("correct horse battery staple " * 9)[:MAX_LENGTH]
    save_staff(rt, "teller1", "teller", longest)
    assert login(api, password=longest).status_code == 200
    with pytest.raises(Invalid):
        save_staff(rt, "teller1", "teller", longest + "!")
