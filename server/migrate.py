"""Schema migrations, run through Alembic from code (``python -m server db upgrade``, and ``serve``)."""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant will do; it only has to be the same in every Callwise process.
_PG_MIGRATION_LOCK = 0x43414C4C  # "CALL"


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision in migrations/ (read once per process: the files do not change under a
    running server, and every start-up and app factory asks)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "migrations/ has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database forward to ``revision``.

    On PostgreSQL an advisory lock makes several processes starting at once take turns; the second
    finds the schema already current.
    """
    _run(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` (``base`` empties it)."""
    _run(engine, lambda config: command.downgrade(config, revision))


def is_behind(engine: Engine) -> bool:
    return current_revision(engine) != head_revision()


@contextmanager
def _sqlite_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, several processes starting at once on one file (with a message queue) take turns,
    as the advisory lock makes them on PostgreSQL: an exclusive ``flock`` on ``<database>.migrate.lock``.
    Alembic commits SQLite's migrations one by one (its DDL is not transactional there), so without
    it a second process could slip in between two of them, read an old revision and apply a
    migration again. An in-memory database has nobody to take turns with."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)  # private, as the database
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


def _run(engine: Engine, action: Callable[[AlembicConfig], None]) -> None:
    config = _alembic_config()
    with _sqlite_turn(engine), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            action(config)
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                connection.commit()
