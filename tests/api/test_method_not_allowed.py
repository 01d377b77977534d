"""A method a route does not take: 405 in the error format, with the Allow header RFC 9110 requires
(found by schemathesis' unsupported_method check while building tests/test_schemathesis.py, issue 16)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/alerts", {"GET", "HEAD", "OPTIONS"}),
    ("TRACE", "/auth/login", {"POST", "OPTIONS"}),
    ("GET", "/counters/1/open", {"POST", "OPTIONS"}),
])
def test_a_method_the_route_does_not_take_is_405_with_allow(api, method, path, allowed):
    response = api.client.open(f"/api/v1{path}", method=method)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert response.content_type == "application/json"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
