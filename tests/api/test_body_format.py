"""Request bodies say they are JSON and numbers are numbers (issue 16, finding 10)."""

from __future__ import annotations

import pytest

# --- finding 10: bodies must say they are JSON ------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
def test_a_login_posted_as_a_form_is_refused_with_415(api, content_type):
    """A cross-site form can send text/plain that happens to be JSON: that must not log anyone in."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.client.post("/api/v1/auth/login", data='{"username": "manager", "password": "correct-horse-9"}',
                               headers=headers)
    assert response.status_code == 415, response.get_json()
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.get_json()["error"]["message"]
    assert "callwise_session" not in response.headers.get("Set-Cookie", "")


def test_every_action_with_a_body_needs_the_json_content_type(api):
    api.open(1, "teller1")
    assert api.post("/counters/1/pause", "teller1", data='{"reason": "break"}',
                    content_type="text/plain").status_code == 415
    assert api.post("/tickets", "kiosk", data='{"service": "A"}', content_type="text/plain").status_code == 415
    assert api.post("/auth/logout", "teller1", data="{}", content_type="text/plain").status_code == 415
    assert api.post("/counters/1/pause", "teller1", data='{"reason": "break"}',
                    content_type="application/json; charset=utf-8").status_code == 200


def test_actions_without_a_body_need_no_content_type(api):
    assert api.act(1, "open").status_code == 200
    assert api.post("/counters/1/close", "teller1", content_type="text/plain").status_code == 200
    assert api.post("/auth/logout", "teller2").status_code == 200


# --- finding 10: numbers are numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "60", "1", None, [60]])
def test_clock_advance_takes_only_a_number(api, value):
    response = api.post("/clock/advance", "manager", json={"seconds": value})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_field"


def test_clock_advance_takes_whole_and_fractional_seconds(api):
    assert api.post("/clock/advance", "manager", json={"seconds": 60}).status_code == 200
    assert api.post("/clock/advance", "manager", json={"seconds": 0.5}).status_code == 200


@pytest.mark.parametrize("path, who, body", [
    ("/counters/1/call", "teller1", {"ticket": True}),
    ("/counters/1/call", "teller1", {"ticket": "1"}),
    ("/counters/1/call", "teller1", {"ticket": 1.0}),
    ("/counters/1/transfer", "teller1", {"counter": True}),
    ("/counters/1/transfer", "teller1", {"counter": "2"}),
    ("/counters/1/complete", "teller1", {"outcome": True}),
    ("/counters/1/instruct", "manager", {"kind": "serve_ticket", "ticket": "1"}),
    ("/counters/1/instruct", "manager", {"kind": "note", "alert": True}),
    ("/complaints", "teller1", {"kind": "other", "text": "x", "counter": "1"}),
    ("/complaints", "teller1", {"kind": "other", "text": 5}),
    ("/tickets", "kiosk", {"service": "A", "priority": 1}),
    ("/tickets/nope/rating", None, {"stars": True}),
    ("/tickets/nope/rating", None, {"stars": "5"}),
    ("/auth/login", None, {"username": "manager", "password": 123456789012}),
])
def test_booleans_and_strings_do_not_pass_as_numbers(api, path, who, body):
    api.open(1, "teller1")
    response = api.post(path, who, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_field"
