"""The OpenAPI document against the routes themselves (issue 16, finding 10: "the OpenAPI document
declares no path parameters, marks public endpoints as needing a token, types arrays as objects and
omits query parameters").

tests/test_schemathesis.py fuzzes a running server against the document; these check, without a
server, what fuzzing cannot see: that every parameter a view reads is declared (a query parameter the
document omits is never sent by the fuzzer), with its converter's bounds, and that ``security: []``
is on exactly the operations that answer without a token.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter

from server.api.openapi import document

SPEC = document()
ARGS = re.compile(r"""request\.args\.get\(\s*["'](\w+)["']""")
USES_BRANCH = re.compile(r"\b(branch_id_for|_staff_and_branch)\(")


def _operations(app: Any) -> list[tuple[Any, str, str, Any]]:
    """(rule, method, document path, view function) for every route under /api/v1."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule, method.lower(), path, app.view_functions[rule.endpoint]))
    return found


def _source(view: Any) -> str:
    """The view's source and that of the functions of its own module it calls (one level: the helpers
    that read a parameter for it, such as reports' _report)."""
    module = inspect.getmodule(view)
    text = inspect.getsource(view)
    helpers = {getattr(module, name, None) for name in re.findall(r"\b(\w+)\(", text)} - {view}
    return text + "".join(inspect.getsource(helper) for helper in helpers
                          if inspect.isfunction(helper) and inspect.getmodule(helper) is module)


def _parameters(path: str, method: str, where: str) -> dict[str, dict[str, Any]]:
    operation = SPEC["paths"][path][method]
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == where}


def test_the_document_is_valid_openapi_31():
    from openapi_spec_validator import validate

    validate(SPEC)
    assert SPEC["openapi"] == "3.1.0"


def test_every_path_parameter_is_declared_with_its_converters_bounds(app):
    for rule, method, path, _ in _operations(app):
        declared = _parameters(path, method, "path")
        assert set(declared) == set(rule.arguments), (path, method)
        for name, converter in rule._converters.items():
            schema = declared[name]["schema"]
            assert declared[name]["required"] is True
            if isinstance(converter, IntegerConverter):
                assert (schema["type"], schema["minimum"], schema["maximum"]) == (
                    "integer", converter.min, converter.max), (path, name)
            else:
                assert schema["type"] == "string", (path, name)


def test_every_query_parameter_a_view_reads_is_declared_and_none_other(app):
    for _, method, path, view in _operations(app):
        source = _source(view)
        read = set(ARGS.findall(source)) | ({"branch"} if USES_BRANCH.search(source) else set())
        assert set(_parameters(path, method, "query")) == read, (method, path)


def test_operations_that_answer_without_a_token_are_marked_so_and_only_they(app, api):
    """Each operation called with no token: a 401 must go with the document's global bearer security,
    anything else with ``security: []``."""
    ticket = api.issue("A")
    values = {"number": "1", "token": ticket["token"], "ticket_id": str(ticket["id"]), "alert_id": "1",
              "instruction_id": "1", "staff_id": "1", "device_id": "1"}
    for _, method, path, _ in _operations(app):
        url = "/api/v1" + re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)
        response = api.client.open(url, method=method.upper())
        public = SPEC["paths"][path][method].get("security") == []
        assert (response.status_code != 401) == public, (method, path, response.status_code, public)


def test_arrays_are_typed_as_arrays(app, api, clock):
    """Every GET without path parameters whose answer (to an admin, who may read everything) is a JSON
    list says so in the document, and every other JSON answer does not."""
    api.open(1, "teller1")
    api.issue("A")
    checked = []
    for _, method, path, _ in _operations(app):
        if method != "get" or "{" in path:
            continue
        response = api.get(path, "admin")
        if response.status_code != 200 or response.content_type != "application/json":
            continue
        schema = SPEC["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert (schema.get("type") == "array") == isinstance(response.get_json(), list), path
        checked.append(path)
    assert {"/counters", "/services", "/alerts", "/instructions", "/complaints", "/ratings"} <= set(checked)


@pytest.mark.parametrize("status", ["400", "401", "403", "404", "409", "415", "422", "503"])
def test_every_error_answer_is_the_one_error_schema(status):
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            response = operation["responses"][status]
            assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, (
                method, path)


def test_429_is_documented_where_a_rate_limit_applies_and_nowhere_else(app):
    from flask_limiter.util import get_qualified_name

    from server.limits import LIMITED_VIEWS, limiter

    # the views under @limiter.limit, and those under server/limits.py's own (@kiosk_limited)
    limited_views = set(limiter.limit_manager._decorated_limits) | LIMITED_VIEWS
    for _, method, path, view in _operations(app):
        documented = "429" in SPEC["paths"][path][method]["responses"]
        assert documented == (get_qualified_name(view) in limited_views), (method, path)
        if documented:
            assert "Retry-After" in SPEC["paths"][path][method]["responses"]["429"]["headers"]
