"""The API against its own reference: schemathesis fuzzes a running server from /api/v1/openapi.json.

Issue 16, finding 10 ("the OpenAPI document declares no path parameters, marks public endpoints as
needing a token, types arrays as objects and omits query parameters") and the issue's demand of "a
valid OpenAPI 3.1 document that matches the server ... no 5xx, every response in the documented
format and schema".

One real server (``python -m server serve``, SQLite, the manual clock at 09:00 on a working day, so
the branch is open) and two phases against it:

- the edges (schemathesis' coverage phase, with its CLI ``st run``): deterministic requests at the
  document's bounds, empty and missing values, wrong types, NUL bytes, undeclared methods, as
  anonymous, kiosk and manager;
- random valid and invalid requests (schemathesis' Python API: hypothesis strategies per operation)
  to every operation once per role: anonymous, kiosk device, display device, teller signed in at
  counter 1, manager, admin. A share of them name counters, tickets, alerts and instructions that
  exist (see known), so the success answers are reached and checked, not only the 404s.

Each answer must not be a 5xx and must match the document: a documented status code, the documented
content type, a body valid against the documented schema (the success answers' schemas and the one
Error schema), the documented headers. The answers are checked against a stricter copy of the
document than the one served: every described object closed (see _closed), so a field the server
sends but the document omits is a failure too. The requests change the server's state (tickets
issued, counters opened and closed, the manual clock advanced): that is fine, the server is thrown
away; what it must never do is answer outside its reference. The tests/branch.toml limits are
generous, so the kiosk and log-in rate limits do not turn the run into 429s, and in the random phase
each role calls from a loopback address of its own (127.0.0.10-15), so that the holder's rating and
cancel (10 a minute per address) are not all 429s.

Bounded for ``make test``: FUZZ_EXAMPLES random requests per operation and role
(CALLWISE_FUZZ_EXAMPLES overrides it, for a longer run by hand), derandomized (the same requests every
run; CALLWISE_FUZZ_SEED picks others), no shrinking: about 6,500 requests in all, a minute and a half
on two cores. A failure does not stop the run: every mismatch is collected, one
per operation and check, with its request and answer. The figures (operations, requests per role,
answers by status, 429s by operation) go to test-artifacts/schemathesis.txt and, with ``-s``, to the
terminal; the coverage phase's own reports to test-artifacts/schemathesis-edges-<role>.txt.

schemathesis' pytest integration (``schema.parametrize()``, ``from_fixture``) is not used: with
pytest 9 it fails before the first request ('Function' object has no attribute '_nodeid').
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.callwise import CallwiseServer

pytestmark = pytest.mark.server

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ROLES = ("anonymous", "kiosk", "display", "teller", "manager", "admin")
ACCOUNTS = {"teller": "fz-teller", "manager": "fz-manager", "admin": "fz-admin", "kiosk": "fz-kiosk",
            "display": "fz-display"}
FUZZ_EXAMPLES = int(os.environ.get("CALLWISE_FUZZ_EXAMPLES", "10"))
FUZZ_SEED = os.environ.get("CALLWISE_FUZZ_SEED")


def _not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, but the one the document names for a machine without espeak-ng (503 no_voice from the
    voice announcement; make test requires espeak-ng, a run by hand may lack it)."""
    if response.status_code >= 500:
        no_voice = (case.operation.label == "GET /announcements/voice.wav" and response.status_code == 503
                    and '"no_voice"' in response.text)
        assert no_voice, f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:300]}"
    return None


CHECKS: list[Callable[..., Any]] = [_not_a_server_error, status_code_conformance, content_type_conformance,
                                    response_schema_conformance, response_headers_conformance]


@dataclass
class Figures:
    """What the run did, per role: requests, answers by status, failures, seconds."""

    operations: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: {role: Counter() for role in ROLES})
    failures: dict[str, list[str]] = field(default_factory=lambda: {role: [] for role in ROLES})
    seconds: dict[str, float] = field(default_factory=dict)
    limited: Counter[str] = field(default_factory=Counter)  # 429 answers per operation
    edges: dict[str, int] = field(default_factory=dict)  # the coverage phase's requests per role

    def summary(self) -> str:
        total = sum(self.requests.values())
        failed = sum(len(f) for f in self.failures.values())
        per_role = ", ".join(f"{role} {self.requests[role]}" for role in ROLES if role in self.seconds)
        edges = ", ".join(f"{role} {n}" for role, n in self.edges.items())
        lines = [f"schemathesis: {self.operations} operations; random: {total} requests ({per_role}), "
                 f"{failed} failures; edges (coverage phase): {sum(self.edges.values())} requests ({edges}); "
                 f"{sum(self.seconds.values()):.0f} s"]
        for role in ROLES:
            if role in self.seconds:
                statuses = " ".join(f"{status}:{n}" for status, n in sorted(self.statuses[role].items()))
                lines.append(f"  {role:9} {self.requests[role]:5} requests {self.seconds[role]:5.1f} s  {statuses}")
        if self.limited:
            lines.append("  429 (rate limited): " + ", ".join(f"{label} {n}" for label, n in self.limited.items()))
        return "\n".join(lines)


@pytest.fixture(scope="module")
def figures() -> Iterator[Figures]:
    counts = Figures()
    yield counts
    text = counts.summary()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "schemathesis.txt").write_text(text + "\n", encoding="utf-8")
    print("\n" + text)


@dataclass
class Known:
    """Path values that name something on the server, so that the fuzzing reaches past the 404s."""

    number: list[int] = field(default_factory=lambda: [1, 2, 3, 4])  # tests/branch.toml's counters
    token: list[str] = field(default_factory=list)
    ticket_id: list[int] = field(default_factory=list)
    alert_id: list[int] = field(default_factory=list)
    instruction_id: list[int] = field(default_factory=list)
    staff_id: list[int] = field(default_factory=list)
    device_id: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    staff = {ACCOUNTS[role]: role for role in ("teller", "manager", "admin")}
    devices = {ACCOUNTS[kind]: kind for kind in ("kiosk", "display")}
    with CallwiseServer.running(tmp_path_factory.mktemp("schemathesis"), staff=staff, devices=devices) as running:
        yield running


@pytest.fixture(scope="module")
def known(server: CallwiseServer) -> Known:
    """A branch in the middle of its morning: the teller at counter 1 serving a customer who needs the
    manager, tickets waiting in every service, an instruction sent."""
    teller, manager = ACCOUNTS["teller"], ACCOUNTS["manager"]

    def ok(response: Any) -> Any:
        assert response.status_code in (200, 201), response.text
        return response.json()

    found = Known()
    ok(server.post("/counters/1/open", teller))
    for service in "AABBCD":
        ticket = server.issue(service, ACCOUNTS["kiosk"])
        found.token.append(ticket["token"])
        found.ticket_id.append(ticket["id"])
    ok(server.post("/counters/1/call-next", teller, json={}))
    ok(server.post("/counters/1/request-help", teller, json={"reason": "authorization"}))
    deadline = time.monotonic() + 10  # the server's alert engine raises it on its own time
    while not found.alert_id and time.monotonic() < deadline:
        found.alert_id = [alert["id"] for alert in ok(server.get("/alerts", manager))]
        time.sleep(0.2)
    found.instruction_id = [ok(server.post("/counters/1/instruct", manager, json={"kind": "note", "text": "hi"}))["id"]]
    assert found.alert_id and found.instruction_id
    # The admin's run comes last (ROLES' order), so the accounts and devices it may disable or revoke
    # have done their own runs by then.
    admin = ACCOUNTS["admin"]
    found.staff_id = [row["id"] for row in ok(server.get("/admin/staff", admin)) if row["username"] != admin]
    found.device_id = [row["id"] for row in ok(server.get("/admin/devices", admin))]
    assert found.staff_id and found.device_id
    return found


# Operations that end the caller's credential or move the clock for everyone: each role's run ends with
# them, so that the rest of it runs as that role in the branch's opening hours.
LAST = ("POST /clock/advance", "POST /auth/logout")


@pytest.fixture(scope="module")
def operations(server: CallwiseServer, known: Known, figures: Figures) -> list[Any]:
    """The document's operations, loaded from the running server (schemathesis validates it first)."""
    document = server.get("/openapi.json").json()
    document["components"] = _closed(document["components"])
    for operations_of_path in document["paths"].values():
        for operation in operations_of_path.values():
            operation["responses"] = _closed(operation["responses"])
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=f"{server.base_url}/api/v1")
    found = [result.ok() for result in schema.get_all_operations()]
    found.sort(key=lambda operation: LAST.index(operation.label) + 1 if operation.label in LAST else 0)
    figures.operations = len(found)
    return found


def _closed(node: Any) -> Any:
    """The answers' schemas with every described object closed (``additionalProperties: false``), so
    that a field the server sends and the document does not describe fails the run. The served
    document leaves them open (a client should ignore what it does not know); an object meant to be
    open says so with its own ``additionalProperties``."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _closed(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        closed["additionalProperties"] = False
    return closed


def _strategy(operation: Any, known: Known) -> Any:
    """Valid and invalid requests, and valid ones naming a counter, ticket, alert or instruction that
    exists."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = re.findall(r"{(\w+)}", operation.path)
    for name in names:
        for value in getattr(known, name):
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={name: value}))
    return hypothesis.strategies.one_of(strategies)


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one loopback address (127.0.0.N): each role is its own client address to the
    server's per-address limits (the holder's rating and cancel allow 10 a minute)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(role: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(f"127.0.0.{10 + ROLES.index(role)}"))
    return session


def _fuzz(operation: Any, known: Known, session: requests.Session, headers: dict[str, str], role: str,
          figures: Figures) -> None:
    """FUZZ_EXAMPLES valid and invalid requests to one operation; each failing check is recorded
    (once per operation and check), not raised, so that one run shows every mismatch."""
    strategy = _strategy(operation, known)
    seen: set[str] = set()

    @hypothesis.settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=FUZZ_SEED is None,
                         phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=strategy)
    @hypothesis.seed(int(FUZZ_SEED or 0))
    def run(case: schemathesis.Case) -> None:
        try:
            response = case.call(session=session, headers=headers, timeout=10)
        except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding, not a crash of the test
            figures.failures[role].append(f"{operation.label}: no answer ({exc!r})")
            return
        figures.requests[role] += 1
        figures.statuses[role][response.status_code] += 1
        if response.status_code == 429:
            figures.limited[operation.label] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                _record(failure.title, failure, case, response)
        except AssertionError as failure:
            _record(type(failure).__name__, failure, case, response)

    def _record(title: str, failure: BaseException, case: schemathesis.Case, response: Any) -> None:
        if title in seen:
            return
        seen.add(title)
        what = " ".join(line.strip() for line in str(failure).split("\nSchema")[0].splitlines() if line.strip())
        body = case.body[:100] if isinstance(case.body, bytes) else case.body
        figures.failures[role].append(
            f"{operation.label} as {role}: {what[:400]}\n"
            f"    request: query={case.query} path={case.path_parameters} body={str(body)[:200]}\n"
            f"    answer: {response.status_code} {response.headers.get('content-type')} {response.text[:200]}")

    run()


# The roles whose requests get past authentication to most validation: the public operations, the
# kiosk's ticket issue, and the manager, who may do nearly all the rest (a counter's actions too).
# Display, teller and admin are left out of this phase, to keep make test short: what they reach,
# these reach too, but for the teller's answer to an instruction (which the random phase covers).
COVERAGE_ROLES = ("anonymous", "kiosk", "manager")


@pytest.mark.parametrize("role", COVERAGE_ROLES)
def test_every_operation_at_its_documented_edges(role: str, server: CallwiseServer, operations: list[Any],
                                                 figures: Figures, tmp_path: Path) -> None:
    """schemathesis' coverage phase, as this role: deterministic requests at the document's edges
    (each bound and just past it, empty and missing values, wrong types, NUL bytes, every enum
    value), which random generation seldom hits. On top of the checks above: negative_data_rejection
    (a request the document calls invalid must be refused, so the document is no looser than the
    server: it found ``?date=`` left empty, which the server takes as "today" and the document did
    not allow), unsupported_method (a method the path does not take is 405 with Allow: it found the
    Allow header missing) and ignored_auth (an operation the document secures refuses a request
    without the token or with a wrong one). Run with the CLI (``st run``): the phase is not part of
    the Python API. It runs first, while every credential is good and the clock inside opening hours
    (the random run below ends each role with a log-out and a clock advance)."""
    token = server.tokens.get(ACCOUNTS.get(role, ""), "")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(server.get("/openapi.json").json()), encoding="utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(document), "--url", f"{server.base_url}/api/v1",
        "--phases", "coverage", "--workers", "1", "--seed", "16", "--no-color", "--request-timeout", "10",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_headers_conformance,response_schema_conformance,negative_data_rejection,"
                    "unsupported_method,ignored_auth",
        *[argument for label in LAST for argument in ("--exclude-path", label.split(" ", 1)[1])],
        *(["--header", f"Authorization: Bearer {token}"] if token else []),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    figures.seconds[f"{role} (edges)"] = time.monotonic() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"schemathesis-edges-{role}.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    generated = re.search(r"(\d+) generated", done.stdout)
    figures.edges[role] = int(generated.group(1)) if generated else 0
    assert done.returncode == 0 and generated, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(role: str, server: CallwiseServer, operations: list[Any],
                                               known: Known, figures: Figures) -> None:
    """Every operation, as this role: no 5xx, every answer as the document says."""
    headers = {"Authorization": f"Bearer {server.tokens[ACCOUNTS[role]]}"} if role in ACCOUNTS else {}
    started = time.monotonic()
    with _session(role) as session:
        for operation in operations:
            _fuzz(operation, known, session, headers, role, figures)
    figures.seconds[role] = time.monotonic() - started
    assert not figures.failures[role], "\n".join(figures.failures[role])

