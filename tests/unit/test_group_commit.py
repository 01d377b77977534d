"""Group commit on SQLite (server/db.py, issue 17): writers of one process that queue for the write
lock share one transaction, committed once; each writer's own failure undoes only its changes, and
no writer returns before its changes are committed."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text

from server import db as database
from server.db import Database


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with database.writing() as session:
        session.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
        session.commit()
    yield database
    database.dispose()


def test_writers_queued_together_commit_once_and_each_returns_with_its_row_committed(db: Database, tmp_path: Path,
                                                                                   monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(database, "GROUP_HOLD_S", 60.0)  # the first writer is held up on purpose below
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda connection: commits.append(1))
    first_in = threading.Event()
    let_go = threading.Event()
    seen_after_return: dict[str, bool] = {}

    def committed(value: str) -> bool:
        outside = sqlite3.connect(tmp_path / "g.db")  # another connection: sees committed rows only
        try:
            return outside.execute("SELECT count(*) FROM t WHERE v = ?", (value,)).fetchone()[0] == 1
        finally:
            outside.close()

    def write(value: str, fail: bool = False) -> None:
        try:
            with db.writing() as session:
                if value == "first":
                    first_in.set()
                    let_go.wait(5)  # everyone else queues for the lock meanwhile
                session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
                if fail:
                    raise RuntimeError("this writer fails")
                session.commit()
        except RuntimeError:
            return
        seen_after_return[value] = committed(value)

    first = threading.Thread(target=write, args=("first",))
    first.start()
    first_in.wait(5)
    others = [threading.Thread(target=write, args=(f"w{i}", i == 3)) for i in range(6)]
    for thread in others:
        thread.start()
    while db._lane.waiting < len(others):  # type: ignore[union-attr]  # noqa: SLF001 - until they all queue
        threading.Event().wait(0.01)
    commits.clear()
    let_go.set()
    for thread in [first, *others]:
        thread.join(10)
    assert seen_after_return == {"first": True, **{f"w{i}": True for i in range(6) if i != 3}}
    assert len(commits) < 7  # seven writers, fewer commits: they were grouped
    with db.reading() as session:
        assert sorted(session.scalars(text("SELECT v FROM t"))) == ["first", "w0", "w1", "w2", "w4", "w5"]


def test_a_group_whose_commit_fails_fails_every_writer_and_keeps_nothing(db: Database, monkeypatch):  # type: ignore[no-untyped-def]
    first_in, let_go = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def write(value: str) -> None:
        try:
            with db.writing() as session:
                if value == "first":
                    first_in.set()
                    let_go.wait(5)
                session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
                session.commit()
            outcomes[value] = "ok"
        except Exception as error:  # noqa: BLE001 - the test records what each writer got
            outcomes[value] = type(error).__name__

    first = threading.Thread(target=write, args=("first",))
    first.start()
    first_in.wait(5)
    second = threading.Thread(target=write, args=("second",))
    second.start()
    while db._lane.waiting < 1:  # type: ignore[union-attr]  # noqa: SLF001
        threading.Event().wait(0.01)
    real_commit = db.engine.dialect.do_commit

    def disk_full(connection):  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(db.engine.dialect, "do_commit", disk_full)
    let_go.set()
    first.join(10)
    second.join(10)
    monkeypatch.setattr(db.engine.dialect, "do_commit", real_commit)
    assert outcomes == {"first": "OperationalError", "second": "OperationalError"}
    with db.reading() as session:
        assert list(session.scalars(text("SELECT v FROM t"))) == []
    with db.writing() as session:  # and the database is usable again
        session.execute(text("INSERT INTO t (v) VALUES ('after')"))
        session.commit()


def test_what_a_writer_reads_after_its_commit_does_not_undo_it(db: Database):
    """A command commits and then reads for its answer in the same session (accounts.disable_staff
    does): the session's end rolls back only that read, not the committed change."""
    with db.writing() as session:
        session.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM t")) == 1
    with db.reading() as session:
        assert list(session.scalars(text("SELECT v FROM t"))) == ["kept"]


def test_a_request_never_waits_for_the_alert_engine_s_write(db: Database, monkeypatch):  # type: ignore[no-untyped-def]
    """A background writer (the alert engine's evaluation, which can take long) queued behind a
    request does not keep the request's transaction open: the request returns committed first."""
    monkeypatch.setattr(database, "GROUP_HOLD_S", 60.0)  # however long the group could stay open
    first_in, let_go = threading.Event(), threading.Event()
    finished: dict[str, float] = {}

    def request() -> None:
        with db.writing() as session:
            first_in.set()
            let_go.wait(5)
            session.execute(text("INSERT INTO t (v) VALUES ('request')"))
            session.commit()
        finished["request"] = time.monotonic()

    def evaluation() -> None:
        with db.writing(background=True) as session:
            time.sleep(0.3)  # a long evaluation
            session.execute(text("INSERT INTO t (v) VALUES ('alert')"))
            session.commit()
        finished["evaluation"] = time.monotonic()

    threads = [threading.Thread(target=request), threading.Thread(target=evaluation)]
    threads[0].start()
    first_in.wait(5)
    threads[1].start()
    time.sleep(0.1)  # the evaluation queues for the lock
    let_go.set()
    for thread in threads:
        thread.join(10)
    assert finished["request"] < finished["evaluation"] - 0.2, finished
    with db.reading() as session:
        assert sorted(session.scalars(text("SELECT v FROM t"))) == ["alert", "request"]


@pytest.mark.postgres
def test_postgresql_writers_of_one_lane_share_a_commit_and_the_others_run_beside_them(pg_cluster, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.conftest import pg_admin_url

    monkeypatch.setattr(database, "GROUP_HOLD_S", 60.0)  # the first writer is held up on purpose below
    db = Database(pg_admin_url(pg_cluster))
    with db.writing() as session:
        session.execute(text("DROP TABLE IF EXISTS lane_t"))
        session.execute(text("CREATE TABLE lane_t (v TEXT)"))
        session.commit()
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda connection: commits.append(1))
    first_in, let_go = threading.Event(), threading.Event()
    done: dict[str, float] = {}

    def write(value: str, lane: str | None) -> None:
        with db.writing(lane=lane) as session:
            if value == "first":
                first_in.set()
                let_go.wait(5)
            session.execute(text("INSERT INTO lane_t (v) VALUES (:v)"), {"v": value})
            session.commit()
        done[value] = time.monotonic()

    first = threading.Thread(target=write, args=("first", "service A"))
    first.start()
    first_in.wait(5)
    second = threading.Thread(target=write, args=("second", "service A"))
    second.start()
    while db._lanes["service A"].waiting < 1:  # noqa: SLF001
        threading.Event().wait(0.01)
    write("elsewhere", None)  # no lane: not held up by the lane's open transaction
    write("service B", "service B")  # another lane: neither
    assert set(done) == {"elsewhere", "service B"}
    commits.clear()
    let_go.set()
    first.join(10)
    second.join(10)
    assert len(commits) == 1  # the two writers of lane A: one commit
    with db.reading() as session:
        assert sorted(session.scalars(text("SELECT v FROM lane_t"))) == ["elsewhere", "first", "second", "service B"]
    with db.writing() as session:
        session.execute(text("DROP TABLE lane_t"))
        session.commit()
    db.dispose()


def test_a_database_that_cannot_be_reached_does_not_leave_the_lane_locked(db: Database, monkeypatch):  # type: ignore[no-untyped-def]
    """A writer that cannot even connect (PostgreSQL restarting) fails, and the next one gets in."""
    real_connect = db.engine.connect
    monkeypatch.setattr(db.engine, "connect", lambda: (_ for _ in ()).throw(sqlite3.OperationalError("away")))
    with pytest.raises(sqlite3.OperationalError), db.writing():
        pass
    monkeypatch.setattr(db.engine, "connect", real_connect)
    done = threading.Event()

    def write() -> None:
        with db.writing() as session:
            session.execute(text("INSERT INTO t (v) VALUES ('back')"))
            session.commit()
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(5), "the lane stayed locked"
