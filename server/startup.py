"""Starting a server safely: one clear line for every way start-up can fail, and one ``serve`` per
SQLite file unless a message queue joins the processes (issue 16, findings 7 and 9).

An operator who starts Callwise on a read-only folder, a busy port or a stopped PostgreSQL used to get
a 46-135-line traceback that never named the path or the port. :func:`explained` turns what start-up
raises into a :class:`StartupError` whose message is one line: what failed, where (path, host:port,
database), and what to do. An exception it does not recognise is a bug and keeps its traceback.

Two ``serve`` processes on one SQLite file without ``[server] message_queue`` both started, and the
second's displays heard nothing the first called: each process sends Socket.IO events to its own
clients only. :func:`hold_serve_lock` takes an exclusive ``flock`` on ``<database>.serve.lock`` for
the life of the process; the kernel drops it when the process ends, however it ends, so a crashed
server never blocks its restart.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from server.config import Config

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# What an unreadable or unwritable SQLite file or folder says, in SQLite's words.
_SQLITE_ACCESS_ERRORS = ("unable to open database file", "readonly database", "read-only database",
                         "attempt to write a readonly")


class StartupError(Exception):
    """Start-up cannot go on; the message is one line for the operator (the CLI prints it and exits 1)."""


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL, ``:memory:`` or a ``file:`` URI)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database)


def check_database_url(database_url: str) -> None:
    """Refuse, in one line, a URL that is not a database URL or names a database Callwise does not run on."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise StartupError(f"server.database_url: {_hide_password(database_url)!r} is not a database URL; "
                           "use e.g. sqlite:///instance/callwise.db or "
                           "postgresql+psycopg://callwise@127.0.0.1/callwise") from None
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise StartupError(f"server.database_url: Callwise runs on SQLite or PostgreSQL, not "
                           f"{url.get_backend_name()!r}; use sqlite:///... or postgresql+psycopg://...")


def check_sqlite_folder(database_url: str) -> None:
    """A SQLite database needs its folder writable (SQLite creates ``-wal`` and ``-shm`` files beside
    it) and the file itself writable: say so, naming the path, before SQLite fails somewhere deep."""
    path = sqlite_path(database_url)
    if path is None:
        return
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StartupError(f"cannot write the database folder {existing}: permission denied for "
                           f"{_user()}; make it writable by that user (e.g. chown {_user()} {existing}) "
                           "or point server.database_url elsewhere")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StartupError(f"cannot write the database {path}: permission denied for {_user()}; "
                           f"make it readable and writable by that user (e.g. chown {_user()} {path})")


_held: list[int] = []  # the lock files' descriptors, open as long as the process lives


def hold_serve_lock(config: Config, database_url: str) -> Path | None:
    """One serving process per SQLite file, unless ``[server] message_queue`` is set: lock
    ``<database>.serve.lock`` (kept until this process ends) or raise :class:`StartupError` naming the
    process that holds it. Returns the lock file, or None when no lock is needed."""
    path = sqlite_path(database_url)
    if path is None or config.server.message_queue:
        return None
    lock = path.with_name(path.name + ".serve.lock")
    if not lock.parent.exists():
        lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartupError(
            f"another Callwise server (pid {holder}) already serves {path}; stop it first, or set "
            "[server] message_queue (e.g. redis://127.0.0.1:6379/0) so that several processes share "
            "their events") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _held.append(fd)
    return lock


@contextmanager
def explained(config: Config, database_url: str, *, listen: tuple[str, int] | None = None) -> Iterator[None]:
    """Run start-up; what it raises for a known reason leaves as a one-line :class:`StartupError`."""
    try:
        yield
    except StartupError:
        raise
    except Exception as exc:
        message = explain(exc, database_url, listen)
        if message is None:
            raise
        raise StartupError(message) from None


def explain(exc: BaseException, database_url: str, listen: tuple[str, int] | None = None) -> str | None:
    """One line for a start-up failure, or None when it is not one of the known causes."""
    from server.bootstrap import SchemaBehind

    if isinstance(exc, SchemaBehind):
        return f"{exc} (server.auto_migrate is off)"
    if isinstance(exc, ArgumentError | NoSuchModuleError):
        try:
            check_database_url(database_url)
        except StartupError as refused:
            return str(refused)
        return f"server.database_url: {_first_line(exc)}"
    if isinstance(exc, ImportError) and exc.name:
        url = _url(database_url)
        return (f"server.database_url: the database driver {exc.name!r} is not installed"
                + (f" (for {url.drivername}://)" if url is not None else "")
                + "; use sqlite:///... or postgresql+psycopg://... (psycopg is installed with Callwise)")
    if isinstance(exc, DBAPIError):
        return _database_failure(exc, database_url)
    if isinstance(exc, OSError) and listen is not None and exc.filename is None:
        return _listen_failure(exc, *listen)
    if isinstance(exc, OSError) and exc.filename is not None:
        return _file_failure(exc)
    return None


def _database_failure(exc: DBAPIError, database_url: str) -> str | None:
    url = _url(database_url)
    if url is None:
        return None
    detail = _first_line(exc.orig if exc.orig is not None else exc)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database_url)
        if any(words in detail.lower() for words in _SQLITE_ACCESS_ERRORS):
            where = path if path is not None else url.database
            return (f"cannot open the SQLite database {where} for writing ({detail}); check that its folder "
                    f"and file are writable by {_user()} and the disk is not read-only")
        return f"the SQLite database {path or url.database} failed at start-up: {detail}"
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    return (f"cannot use PostgreSQL at {host}, database {url.database!r}: {detail}; check that it runs and "
            "accepts this server, and server.database_url")


def _listen_failure(exc: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return (f"cannot listen on {where}: unknown host {host!r}; "
                "set --host or [server] host to an address of this machine")
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (another Callwise or another program); "
                "stop it, or choose another port with --port or [server] port")
    if exc.errno == errno.EACCES:
        return (f"cannot listen on {where}: permission denied (ports below 1024 need privileges); "
                "use a port of 1024 or more behind nginx")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: this machine has no address {host}; set --host or [server] host"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _file_failure(exc: OSError) -> str:
    path = Path(str(exc.filename))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write {path}: {exc.strerror.lower() if exc.strerror else 'permission denied'} for "
                f"{_user()}; make {path.parent} writable by that user (Callwise keeps its state in instance/ "
                "beside the config)")
    return f"cannot use {path}: {exc.strerror or exc}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


def _url(database_url: str) -> URL | None:
    try:
        return make_url(database_url)
    except ArgumentError:
        return None


def _hide_password(database_url: str) -> str:
    url = _url(database_url)
    return url.render_as_string(hide_password=True) if url is not None else database_url


def _user() -> str:
    """The user this process runs as, for messages ('make it writable by callwise')."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"
