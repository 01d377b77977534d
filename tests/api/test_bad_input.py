"""Hostile or careless input is answered in the error format, never a 500 (issue 16, finding 5)."""

from __future__ import annotations

import logging
import re

import pytest

HUGE_NUMBERS = [2**31, 2**63, 10**20]


def _int_routes(app):
    """Every API route with a number in its path, as (method, path template, argument names)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        numeric = [name for name, converter in rule._converters.items() if hasattr(converter, "num_convert")]
        if numeric:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule, numeric))
    return routes


def _fill(template: str, value: int) -> str:
    return re.sub(r"<(?:[^>:]+:)?\w+>", str(value), template).removeprefix("/api/v1")


# --- finding 5: deeply nested JSON --------------------------------------------------------------------


@pytest.mark.parametrize("path, who", [("/auth/login", None), ("/tickets", "kiosk"), ("/clock/advance", "manager")])
def test_deeply_nested_json_is_a_400_logged_in_one_line_not_a_traceback(api, caplog, path, who):
    depth = 30_000  # 60 KB: under the 64 KB limit on bodies, far past Python's recursion limit
    caplog.set_level(logging.INFO)
    response = api.post(path, who, data="[" * depth + "]" * depth, content_type="application/json")
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "malformed_json"
    assert "nest" in response.get_json()["error"]["message"]
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    assert [record for record in caplog.records if "nest" in record.getMessage()], "nothing was logged"
    nested_object = '{"service": ' + "[" * depth + "]" * depth + "}"
    response = api.post(path, who, data=nested_object, content_type="application/json")
    assert response.status_code == 400


def test_nan_and_infinity_are_not_json(api):
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = api.post("/clock/advance", "manager", data=f'{{"seconds": {literal}}}',
                            content_type="application/json")
        assert response.status_code == 400, (literal, response.get_json())
        assert response.get_json()["error"]["code"] == "malformed_json"


# --- finding 5: numbers beyond the database's integer range in paths and bodies -------------------------


@pytest.mark.parametrize("value", HUGE_NUMBERS)
@pytest.mark.parametrize("who", ["teller1", "manager"])
def test_numbers_beyond_the_database_range_in_any_path_are_never_a_500(app, api, value, who):
    """2**31 is past PostgreSQL's INTEGER (counter numbers), 2**63 past BIGINT and SQLite's INTEGER
    (ids): no such thing exists, so 404; an id in range but not the caller's to touch may be 403 first."""
    api.open(1, "teller1")
    routes = _int_routes(app)
    assert len(routes) >= 15
    for method, template, _ in routes:
        path = _fill(template, value)
        response = api.client.open(f"/api/v1{path}", method=method, headers=api.headers(who))
        detail = (method, path, response.status_code, response.get_data(as_text=True))
        if value > 2**63 - 1 or "<counter:" in template:
            assert response.status_code == 404, detail
        assert response.status_code in (403, 404, 422), detail
        assert response.get_json()["error"]["code"], detail


def test_the_largest_numbers_that_fit_answer_unknown_thing(api):
    """At the edge of the range the request reaches the database and finds nothing."""
    assert api.act(999, "open").status_code == 404
    assert api.post(f"/alerts/{2**63 - 1}/ack", "manager").status_code == 404
    assert api.post(f"/instructions/{2**63 - 1}/ack", "teller1", json={"answer": "done"}).status_code == 404
    assert api.get(f"/tickets/{2**63 - 1}/context", "teller1").status_code == 404


def test_every_numeric_path_parameter_has_a_bounded_converter(app):
    """A route added later with a plain ``<int:...>`` fails here rather than in production."""
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if hasattr(converter, "num_convert"):
                assert converter.min is not None and converter.min >= 1, (rule.rule, name)
                assert converter.max is not None and converter.max <= 2**63 - 1, (rule.rule, name)


@pytest.mark.parametrize("path, who, body", [
    ("/counters/1/call", "teller1", {"ticket": 2**63}),
    ("/counters/1/transfer", "teller1", {"counter": 2**31}),
    ("/counters/1/instruct", "manager", {"kind": "serve_ticket", "ticket": 2**63}),
    ("/counters/1/instruct", "manager", {"kind": "note", "alert": 10**20}),
    ("/complaints", "teller1", {"kind": "other", "text": "x", "counter": 2**31}),
    ("/complaints", "teller1", {"kind": "other", "text": "x", "ticket": 2**63}),
    ("/clock/advance", "manager", {"seconds": 10**400}),
    ("/tickets/nope/rating", None, {"stars": 2**63}),
])
def test_numbers_beyond_range_in_bodies_are_422(api, path, who, body):
    api.open(1, "teller1")
    response = api.post(path, who, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_field"


def test_the_openapi_document_declares_the_path_numbers_bounds(api):
    """Every numeric path parameter is documented with the bounds its converter enforces."""
    from server.api.converters import MAX_ROW_ID
    from server.config import MAX_COUNTER_NUMBER

    document = api.get("/openapi.json").get_json()
    numeric = [(path, p) for path, ops in document["paths"].items() for op in ops.values()
               for p in op.get("parameters", []) if p["in"] == "path" and p["schema"].get("type") == "integer"]
    assert numeric
    for path, parameter in numeric:
        expected = MAX_COUNTER_NUMBER if parameter["name"] == "number" else MAX_ROW_ID
        assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, expected), (path, parameter)
