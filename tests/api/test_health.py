"""GET /api/v1/health: "ok" only when the database takes writes, and nothing for strangers to use.

Issue 16, finding 10: health said "ok" while nothing could be written, and showed the process id to
anyone.
"""

from __future__ import annotations

from sqlalchemy import event

from server.api import health as health_module
from server.db import Database

ADMIN_ONLY = {"pid", "sweeper", "sweeps"}


def test_anonymous_callers_get_no_process_id(api):
    body = api.get("/health").get_json()
    assert body["status"] == "ok"
    assert not ADMIN_ONLY & set(body), body


def test_a_bad_token_gets_the_anonymous_answer_not_an_error(api):
    answer = api.client.get("/api/v1/health", headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 200
    assert not ADMIN_ONLY & set(answer.get_json())


def test_only_admins_see_the_process_and_the_sweeper(api):
    for who in ("teller1", "manager", "kiosk", "display"):
        assert not ADMIN_ONLY & set(api.get("/health", who).get_json()), who
    body = api.get("/health", "admin").get_json()
    assert set(body) >= ADMIN_ONLY
    assert isinstance(body["pid"], int)


def read_only_database(rt, backend: str) -> Database:
    """The test's own database, opened so that it answers reads and refuses writes."""
    if backend == "sqlite":
        path = rt.db.url.removeprefix("sqlite:///")
        return Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    separator = "&" if "?" in rt.db.url else "?"
    return Database(f"{rt.db.url}{separator}options=-c%20default_transaction_read_only%3Don")


def test_a_read_only_database_is_503_database_read_only(api, rt, backend):
    """Issue 16, finding 10: a database that answers but refuses writes is not healthy."""
    healthy = rt.db
    rt.db = read_only_database(rt, backend)
    try:
        assert api.get("/services").status_code == 200  # it does answer reads
        answer = api.get("/health")
        assert answer.status_code == 503, answer.get_json()
        error = answer.get_json()["error"]
        assert error["code"] == "database_read_only"
        assert "cannot be written" in error["message"]
        assert api.get("/health").status_code == 503  # a failure is not cached
    finally:
        rt.db.dispose()
        rt.db = healthy
    assert api.get("/health").status_code == 200
    assert api.issue("A")["number"] == "A001"


def test_the_write_probe_runs_once_per_interval_however_often_health_is_polled(api, rt, monkeypatch):
    probes: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE BRANCHES"):
            probes.append(statement)

    fresh = Database(rt.db.url)  # nothing cached for it yet
    event.listen(fresh.engine, "before_cursor_execute", count)
    healthy, rt.db = rt.db, fresh
    try:
        for _ in range(5):
            assert api.get("/health").status_code == 200
        assert len(probes) == 1
        monkeypatch.setattr(health_module, "PROBE_CACHE_S", 0.0)
        for _ in range(3):
            assert api.get("/health").status_code == 200
        assert len(probes) == 4
    finally:
        fresh.dispose()
        rt.db = healthy
