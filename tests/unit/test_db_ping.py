"""Pooled PostgreSQL connections are tested only after a second idle (server/db.py, issue 17): a
connection cut while idle (a restart, a failover) is replaced before use, and a busy server pays no
round trip per transaction for the check."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from server import db as database
from tests.conftest import pg_admin_url

pytestmark = pytest.mark.postgres


def test_a_connection_cut_while_idle_is_replaced_and_a_busy_one_is_not_pinged(pg_cluster: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_admin_url(pg_cluster)
    engine = database.make_engine(url)
    pings: list[str] = []
    original = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append("ping") or original(c))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for _ in range(5):  # used again at once: no ping, the same connection
            with engine.connect() as connection:
                assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() == first
        assert pings == []
        with admin.connect() as connection:  # the server ends the idle connection
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        monkeypatch.setattr(database, "IDLE_PING_S", 0.0)  # as if a second had passed
        with engine.connect() as connection:
            replaced = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert pings and replaced != first
    finally:
        engine.dispose()
        admin.dispose()


def test_sqlite_engines_have_no_ping(tmp_path: Any) -> None:
    """A file on this machine cannot be cut off: no check at all."""
    engine = database.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert len(engine.pool.dispatch.checkout) == 0
    assert len(database.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x").pool.dispatch.checkout) == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
