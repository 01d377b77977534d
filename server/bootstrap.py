"""Turning a config into a running :class:`~server.runtime.Runtime`: database, schema, clock, branch.

Shared by the web app, the CLI and the simulator, so each starts the same way.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from server import migrate
from server.alerts.engine import AlertEngine
from server.branches import sync_branches
from server.clock import Clock, clock_from_config
from server.config import Config
from server.db import Database
from server.queueing.tickets import close_the_days
from server.runtime import NullPublisher, Publisher, Runtime


class SchemaBehind(Exception):
    """The database needs ``python -m server db upgrade`` and auto-migration is off."""


def resolve_database_url(config: Config) -> str:
    """A relative SQLite path is taken relative to the config file's folder, not to the current
    directory, so ``serve`` finds the same database wherever it is started from."""
    url = make_url(config.server.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return config.server.database_url
    path = Path(url.database)
    if not path.is_absolute() and config.source not in ("<memory>", ""):
        path = Path(config.source).resolve().parent / path
    return url.set(database=str(path)).render_as_string(hide_password=False)


def instance_dir(config: Config) -> Path:
    """Where local state lives (demo credentials, the generated demo secret): instance/ beside the config."""
    base = Path(config.source).resolve().parent if config.source not in ("<memory>", "") else Path.cwd()
    return base / "instance"


def private_folder(path: Path) -> Path:
    """Make ``path`` (and its parents) if missing, and leave it open to its owner only (0700): the
    instance folder and the backups hold the database, its copies, secrets and demo log-ins, which
    other users of the machine have no business reading (issue 16, finding 10)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode
    if mode & 0o077:
        path.chmod(mode & 0o700)  # the owner's own bits stay as they were (a read-only folder stays so)
    return path


def open_runtime(
    config: Config, *, publisher: Publisher | None = None, clock: Clock | None = None,
    migrate_schema: bool | None = None,
) -> Runtime:
    """Connect, bring the schema up to date (or refuse), and sync the branch from config."""
    database = Database(resolve_database_url(config))
    if migrate_schema is None:
        migrate_schema = config.server.auto_migrate
    if migrate.is_behind(database.engine):
        if not migrate_schema:
            raise SchemaBehind("the database schema is behind; run: python -m server db upgrade")
        migrate.upgrade(database.engine)
    runtime = Runtime(
        config=config,
        db=database,
        clock=clock or clock_from_config(config.clock.mode, config.clock.start),
        publisher=publisher or NullPublisher(),
    )
    sync_branches(runtime)
    engine = AlertEngine(runtime)
    runtime.alerts = engine
    runtime.change_listeners.append(engine.on_change)
    runtime.time_listeners.append(engine.on_time)
    # A manual clock that moves past closing closes the day before it answers (a server on the
    # system clock does it every minute: server/maintenance.py).
    def close_days(_now: datetime) -> None:
        close_the_days(runtime)

    runtime.time_listeners.append(close_days)
    return runtime
