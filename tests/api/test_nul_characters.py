"""NUL characters in requests: a clear error on both backends, never a 500 (issue 16, finding 5, found
while building the schemathesis run of tests/test_schemathesis.py).

PostgreSQL cannot store or compare a string holding NUL (``\\u0000`` in JSON, ``%00`` in a URL): psycopg
raises before the query is sent, which was a 500 for a complaint's text, a log-in's username, a
ticket token in the path or ``?branch=``, while SQLite stored or looked the same value up.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("path", "who", "body", "field"), [
    ("/complaints", "teller1", {"kind": "other", "text": "a\x00b"}, "text"),
    ("/auth/login", None, {"username": "teller\x001", "password": "correct-horse-9"}, "username"),
    ("/counters/1/hold", "teller1", {"note": "back\x00 soon"}, "note"),
    ("/complaints", "teller1", {"kind": "other", "text": "x", "a\x00": 1}, "a\x00"),
])
def test_a_nul_in_a_body_is_422_and_changes_nothing(api, path, who, body, field):
    api.open(1, "teller1")
    api.issue("A")
    api.ok(1, "call-next", "teller1")
    before = api.get("/complaints", "manager").get_json()
    response = api.post(path, who, json=body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "bad_text" and error["message"].startswith(f"{field}: NUL"), error
    assert api.get("/complaints", "manager").get_json() == before
    assert api.get("/counters", "teller1").get_json()[0]["state"] == "calling"


def test_a_nul_nested_in_a_body_is_named_by_its_place(api):
    response = api.post("/complaints", "teller1", json={"kind": "other", "text": "x", "extra": [{"deep": "\x00"}]})
    assert response.status_code == 422
    assert response.get_json()["error"]["message"].startswith("extra.0.deep: NUL")


@pytest.mark.parametrize(("path", "who"), [
    ("/tickets/abcdefghijklmnop%00qrstuvwxyz", None),
    ("/tickets/abcdefghijklmnop%00qrstuvwxyz/qr.svg", None),
    ("/reports/daily?branch=te%00st", "manager"),
    ("/alerts?state=open%00", "manager"),
    ("/complaints?from=2026-11-30%00", "manager"),
])
def test_a_nul_in_the_address_is_400(api, path, who):
    response = api.get(path, who)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "nul_character"


def test_a_nul_in_a_header_is_400(api, fresh_db):
    response = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh_db.tokens['teller1']}\x00"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "nul_character"


def test_a_nul_in_a_socket_connections_branch_names_no_branch(app, fresh_db):
    """The Socket.IO connect payload's ``branch`` reaches the same look-up as ``?branch=`` without
    the HTTP check: on PostgreSQL it raised a DataError out of the connect handler."""
    from server.actors import ANONYMOUS
    from server.branches import branch_for
    from server.errors import NotFound

    with pytest.raises(NotFound):
        branch_for(app.extensions["callwise"], ANONYMOUS, "te\x00st")
