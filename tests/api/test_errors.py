"""Errors are JSON everywhere under /api, and never a 500 for bad input."""

from __future__ import annotations

import re

import pytest

from server.db import Database


def test_unknown_api_route_is_a_json_404(api):
    response = api.get("/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_a_json_405(api):
    response = api.client.delete("/api/v1/services")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_too_large_a_body_is_a_json_413(api):
    response = api.post("/tickets", "kiosk", data="x" * 100_000, content_type="application/json")
    assert response.status_code == 413
    assert "error" in response.get_json()


@pytest.mark.parametrize("body", ["", "null", "[]", '"A"', "{", "\xff\xfe"])
def test_bodies_that_are_not_objects_never_cause_a_500(api, body):
    response = api.post("/tickets", "kiosk", data=body.encode("latin-1"), content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"] in ("malformed_json", "invalid_field")


@pytest.mark.parametrize("value", [None, 5, [], {}, "", "A" * 50])
def test_wrong_typed_service_is_422(api, value):
    response = api.post("/tickets", "kiosk", json={"service": value})
    assert response.status_code == 422


def test_non_numeric_counter_is_404(api):
    assert api.act("one", "open").status_code == 404  # type: ignore[arg-type]


def test_database_down_answers_503_and_issues_nothing(app, api, rt, backend):
    healthy = rt.db
    if backend == "sqlite":
        rt.db = Database("sqlite:///file:/nonexistent/dir/callwise.db?mode=ro&uri=true")
    else:
        rt.db = Database("postgresql+psycopg://postgres@127.0.0.1:1/callwise?connect_timeout=1")
    try:
        issued = api.post("/tickets", "kiosk", json={"service": "A"})
        assert issued.status_code == 503, issued.get_json()
        assert issued.get_json()["error"]["code"] == "database_unavailable"
        assert api.get("/services").status_code == 503
        assert api.get("/health").status_code == 503
    finally:
        rt.db.dispose()
        rt.db = healthy
    assert api.get("/health").status_code == 200
    assert api.issue("A")["number"] == "A001"


def test_health_reports_the_database_and_clock(api, backend):
    health = api.get("/health").get_json()
    assert health["status"] == "ok"
    assert health["database"] == backend
    assert health["clock"] == "manual"


def test_openapi_documents_every_api_route(app, api):
    spec = api.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert path in documented, f"{rule.rule} is not in openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], f"{method} {rule.rule} is not in openapi.json"
