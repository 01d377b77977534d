"""Engines and transactions, for the embedded SQLite default and for PostgreSQL.

Why the SQLite hooks: pysqlite starts transactions lazily with a plain (deferred) BEGIN, so two
connections can both read the same waiting ticket and both claim it. Every write transaction here
starts with ``BEGIN IMMEDIATE`` instead, which takes SQLite's write lock before the first read;
together with WAL (readers never block the writer) and a busy timeout this makes call-next atomic
across threads and processes. Read-only work uses a deferred BEGIN so it never queues behind writers.

Inside one process the write transactions are also serialized by a lock that gevent patches into a
cooperative one: a greenlet waiting for the write lock then yields instead of blocking the whole
process inside SQLite's busy handler. Another process's write lock is waited for the same way
(:func:`_begin_immediate`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Float, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

log = logging.getLogger(__name__)
READ_ONLY = "callwise_read_only"
SQLITE_BUSY_TIMEOUT_MS = 15_000
_TRANSACTION_CACHE = "callwise_transaction_cache"
_AFTER_COMMIT = "callwise_after_commit"
_GROUP = "callwise_group"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with the settings Callwise relies on (see the module docstring)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite_file(Path(database))
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=8,
            max_overflow=24,
        )
        _install_sqlite_hooks(engine)
        _commit_off_the_loop(engine)
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    _ping_after_idle(engine)
    return engine


IDLE_PING_S = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it has been idle for a second or more.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip to the database before
    every transaction, which a busy server pays twice per request (issue 17). A connection used a
    moment ago is alive; one idle longer may have been cut (a database restart, a failover, a
    firewall), and is pinged and replaced if dead, as the pre-ping would. This is SQLAlchemy's
    documented "pessimistic" recipe: raising DisconnectionError at checkout makes the pool discard
    the connection and hand out a fresh one."""

    @event.listens_for(engine.pool, "connect")
    @event.listens_for(engine.pool, "checkin")
    def _fresh_or_checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"a pooled connection was dead: {error}") from error


def _private_sqlite_file(path: Path) -> None:
    """The database file made readable by its owner only (0600) before SQLite opens it: SQLite gives
    its ``-wal`` and ``-shm`` files the database file's permissions, so those follow. A new folder is
    made 0700. A file an older version left readable by everyone loses the others' access (the
    group's is left: an operator may have given it to a backup group on purpose)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # unwritable: SQLite (or server/startup.py before it) reports it, naming the path
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o007:
                file.chmod(mode & ~0o007)
                log.warning("%s was readable by every user of this machine; now it is not (mode %o)",
                            file, mode & ~0o007)
        except OSError:
            continue  # absent (no -wal yet) or not ours to change


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a ticket acknowledged is a ticket on disk
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            _begin_immediate(connection)


def _commit_off_the_loop(engine: Engine) -> None:
    """In a gevent server, SQLite's COMMIT runs on a native thread while the process serves on.

    With ``synchronous=FULL`` a commit waits for the disk (fsync): 0.1 ms on a fast SSD, 4 ms and
    more on a slower or busy one (issue 17), and a C call blocks every greenlet of the process, so
    every request and socket of the server stopped for each commit. On a native thread the wait
    yields: other requests are parsed, authorised, read and answered meanwhile (the next writer
    still waits for the write lock, which the committing transaction holds until it is done).
    Nothing changes without gevent's patching (tests, the CLI): the commit is made in place."""
    try:
        from gevent import monkey
    except ImportError:  # gevent is a dependency; only a stripped install lacks it
        return
    if not monkey.is_module_patched("threading"):
        return
    from gevent.threadpool import ThreadPool

    pool = ThreadPool(1)  # the process's write transactions commit one at a time anyway
    commit = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        pool.apply(commit, (dbapi_connection,))

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]


def _begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock without blocking this one.

    SQLite's busy handler sleeps inside the C call: on gevent the whole process (every request and
    socket of it) would stop while another process on the same file writes (issue 17 measured
    call-next p99 at 5.6 s with several processes on one file). So the lock is asked for without
    the busy handler and, while another process holds it, asked again after a sleep that yields
    to the other greenlets (1 ms, doubling to 50 ms), for up to the usual busy timeout; then once
    more with the handler, which raises the usual error if the lock is still not free."""
    raw = connection.connection.driver_connection
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    break  # not a lock: let the statement below raise it, as SQLAlchemy's error
            time.sleep(delay)  # gevent's, in a server: the process serves on meanwhile
            delay = min(delay * 2, 0.05)
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine plus two session factories: one for writes, one for reads."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(read_engine, expire_on_commit=False)
        for factory in (self._write_sessions, self._read_sessions):
            _keep_transaction_caches(factory)
        # Created here, not at import, so that its locks are gevent's once the server has patched.
        self._lane = _Lane() if self.is_sqlite else None  # SQLite: every writer of the process
        self._lanes: dict[Any, _Lane] = {}  # PostgreSQL: the writers of one contended row each
        self._lanes_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writing(self, *, background: bool = False, lane: Any = None) -> Iterator[Session]:
        """A write transaction. Commit explicitly; anything else rolls back.

        Writers of one lane queue for its lock, and the ones that queued meanwhile share one
        transaction (:meth:`_writing_in_group`): on SQLite every writer of the process (the
        database has one write lock), on PostgreSQL the writers that name the same ``lane`` (the
        issues of one service, which all take its ticket-number row); other PostgreSQL writers run
        side by side as ever. A writer's ``commit()`` returns once its changes are durable either
        way, and only then does :class:`~server.runtime.UnitOfWork` announce them. A
        ``background`` writer (the alert engine's) never joins a group, and a group is never held
        open for one: its work can take longer than a request's, and the group would wait for it."""
        shared = self._lane if self._lane is not None else self._lane_for(lane)
        if shared is not None and shared.holder != threading.get_ident():
            counted = 0 if background else 1
            with shared.state:
                shared.waiting += counted
            try:
                shared.lock.acquire()
            finally:
                with shared.state:
                    shared.waiting -= counted
            shared.holder = threading.get_ident()
            if background and shared.group is not None:
                shared.commit_open_group()
            with self._writing_in_group(shared) as session:
                yield session
            return
        if shared is not None:  # re-entered by the writer holding the lock: a transaction of its own, as ever
            shared.lock.acquire()
        try:
            with self._write_sessions() as session:
                try:
                    yield session
                finally:
                    if session.in_transaction():
                        session.rollback()
        finally:
            if shared is not None:
                shared.lock.release()

    def _lane_for(self, key: Any) -> _Lane | None:
        if key is None:
            return None
        with self._lanes_lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane()
            return lane

    @contextmanager
    def _writing_in_group(self, lane: _Lane) -> Iterator[Session]:
        """Group commit (issue 17), with the lane's lock held.

        SQLite: with ``synchronous=FULL`` every commit waits for the disk, and the write lock is
        held meanwhile: writers of a busy server queued behind one fsync each (4 ms apiece on a
        slower disk). PostgreSQL: every issue of a service takes the service's ticket-number row,
        held until its commit, so kiosks of one service queued in the database behind one round
        trips and one commit each. In both, a writer that finds others waiting for the lane leaves
        its transaction open for them: each works in a SAVEPOINT of the shared transaction (its
        failure undoes only its own changes, and so does whatever it does after its commit: a
        SAVEPOINT per session transaction), hands the lock on, and waits for the commit. The last
        writer of the group (nobody waiting, or GROUP_MEMBERS of them, or the group open
        GROUP_HOLD_S) commits it once for all. Nothing is announced, and no answer given, before
        that commit: a crash loses only changes nobody was told of. A commit that fails fails
        every writer of the group."""
        group = lane.group
        if group is None:
            try:
                connection = self.engine.connect()
            except BaseException:  # the database is away: the next writer tries again
                lane.release()
                raise
            try:
                connection.begin()  # SQLite: BEGIN IMMEDIATE (the begin hook)
            except BaseException:
                connection.close()
                lane.release()
                raise
            group = lane.group = _Group(connection, time.monotonic())
        group.members += 1
        session = self._write_sessions(bind=group.connection, join_transaction_mode="create_savepoint")
        session.info[_GROUP] = group
        failed = True
        try:
            yield session
            failed = False
        finally:
            try:
                if session.in_transaction():
                    session.rollback()  # to this writer's savepoint
                session.close()
            except BaseException:  # the shared transaction itself is broken: end it now
                group.broken = True
            lane.leave(group, wait=not failed)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction. Closing the session ends it; the rows read stay usable."""
        with self._read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


GROUP_MEMBERS = 16  # writers committed together at most
GROUP_HOLD_S = 0.01  # how long a group stays open for more writers at most (their first one waits that long)


class _Lane:
    """Writers that may share a transaction, one at a time: SQLite's whole process, or on PostgreSQL
    the writers of one contended row (see :meth:`Database.writing`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.state = threading.Lock()  # guards ``waiting``
        self.waiting = 0  # writers waiting for the lock (background ones not counted)
        self.holder: int | None = None  # the thread or greenlet holding it
        self.group: _Group | None = None  # the transaction its writers are sharing now

    def release(self) -> None:
        self.holder = None
        self.lock.release()

    def leave(self, group: _Group, *, wait: bool) -> None:
        with self.state:
            others = self.waiting
        if (others and not group.broken and group.members < GROUP_MEMBERS
                and time.monotonic() - group.opened < GROUP_HOLD_S):
            self.release()
            if wait:
                self.wait_for(group)
            return
        self.commit(group)
        if wait and group.error is not None:
            raise group.error

    def commit_open_group(self) -> None:
        """Commit the open group for its writers, keeping the lock (a background writer's turn
        comes next, in a transaction of its own)."""
        group = self.group
        assert group is not None
        self.lock.acquire()  # commit() releases once; the caller keeps its hold
        self.commit(group)
        self.holder = threading.get_ident()

    def commit(self, group: _Group) -> None:
        """Commit the group (the lock held), then let its writers go on."""
        self.group = None
        try:
            if group.broken:
                raise exc.InvalidRequestError("a write transaction shared by several writers broke; none is kept")
            group.connection.commit()
        except BaseException as error:  # noqa: BLE001 - handed to every writer of the group
            group.error = error
            # What a failed COMMIT leaves of the transaction is the database's business: the
            # connection is thrown away rather than given back to the pool.
            with contextlib.suppress(Exception):
                group.connection.invalidate()
        finally:
            try:
                group.connection.close()  # rolls back whatever was not committed
            finally:
                self.release()
                group.done.set()
        if group.error is None:
            for callback in group.after_commit:
                callback()

    def wait_for(self, group: _Group) -> None:
        """Wait for the group's commit. Should the writer expected to go on with it never come (it
        gave up waiting for the lock), commit the group here once the lock is free."""
        while not group.done.wait(0.05):
            if self.group is group and self.lock.acquire(blocking=False):
                if self.group is group:
                    self.holder = threading.get_ident()
                    self.commit(group)
                else:
                    self.lock.release()
        if group.error is not None:
            raise group.error


class _Group:
    """One SQLite transaction that several writers of a process share, committed once."""

    def __init__(self, connection: Any, opened: float) -> None:
        self.connection = connection
        self.opened = opened
        self.members = 0
        self.broken = False
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.after_commit: list[Callable[[], None]] = []


def _keep_transaction_caches(factory: sessionmaker[Session]) -> None:
    """Sessions of ``factory`` get a :func:`transaction_cache` that forgets everything at the first
    write, flush, commit or rollback, and run the callbacks of :func:`after_commit` once committed."""
    factory.configure(info={_TRANSACTION_CACHE: None, _AFTER_COMMIT: None})

    def forget(session: Session, *_: Any) -> None:
        if session.info.get(_TRANSACTION_CACHE):
            session.info[_TRANSACTION_CACHE] = None

    def committed(session: Session) -> None:
        forget(session)
        callbacks = session.info.get(_AFTER_COMMIT)
        if callbacks:
            session.info[_AFTER_COMMIT] = None
            group = session.info.get(_GROUP)
            if group is not None:  # a savepoint released: the callbacks wait for the group's commit
                group.after_commit.extend(callbacks)
                return
            for callback in callbacks:
                callback()

    def rolled_back(session: Session) -> None:
        forget(session)
        if session.info.get(_AFTER_COMMIT):
            session.info[_AFTER_COMMIT] = None

    def forget_on_write(state: ORMExecuteState) -> None:
        if not state.is_select:
            forget(state.session)

    event.listen(factory, "after_flush", forget)
    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_rollback", rolled_back)
    event.listen(factory, "do_orm_execute", forget_on_write)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction has committed; never if it rolls back (what
    a write transaction computed from its own uncommitted rows may be kept only once they are
    committed). Sessions not made by :class:`Database` run it at once: there is nothing to wait for."""
    if _AFTER_COMMIT not in session.info:
        callback()
        return
    callbacks = session.info.get(_AFTER_COMMIT)
    if callbacks is None:
        callbacks = session.info[_AFTER_COMMIT] = []
    callbacks.append(callback)


def transaction_cache(session: Session) -> dict[Any, Any]:
    """A dict for reads that several parts of one change need at the same moment (the branch load
    behind a counter's view and the queue summary): valid until the session writes anything.
    Sessions not made by :class:`Database` get a fresh dict each time, which caches nothing."""
    if _TRANSACTION_CACHE not in session.info:
        return {}
    cache: dict[Any, Any] | None = session.info[_TRANSACTION_CACHE]
    if cache is None:
        cache = session.info[_TRANSACTION_CACHE] = {}
    return cache


class epoch_seconds(FunctionElement[float]):
    """A timestamp column as POSIX seconds, computed by the database: reading thousands of rows
    this way skips a datetime parse per value (the alert sweep does)."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    # Timestamps are stored as UTC text; julianday() reads it, 2440587.5 is 1970-01-01. A Julian
    # day as a double is good to ~50 µs, so round to the millisecond: whole seconds stay whole.
    return f"round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"
