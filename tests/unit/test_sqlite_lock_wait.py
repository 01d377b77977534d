"""A server process waits for another process's SQLite write lock without stopping (issue 17).

The child process below runs as a server does (gevent, monkey-patched) and starts a write
transaction while this process holds the database's write lock; a second greenlet ticks every 10 ms
meanwhile. SQLite's own busy handler would sleep inside the C call and stop every greenlet of the
child until the lock came free; server/db.py asks for the lock again after yielding sleeps instead.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import gevent.monkey
gevent.monkey.patch_all()
import json, sys, time
import gevent
from sqlalchemy import text
from server.db import Database

db = Database(f"sqlite:///{sys.argv[1]}")
ticks = []
waited = {}

def ticker():
    while "done" not in waited:
        ticks.append(time.monotonic())
        gevent.sleep(0.01)

def writer():
    started = time.monotonic()
    print("waiting", flush=True)
    with db.writing() as session:
        session.execute(text("INSERT INTO t (v) VALUES ('child')"))
        session.commit()
    waited["s"] = time.monotonic() - started
    waited["done"] = True

tick = gevent.spawn(ticker)
gevent.joinall([gevent.spawn(writer), tick])
print(json.dumps({"waited_s": waited["s"], "ticks": len(ticks)}), flush=True)
"""


def test_a_write_waiting_for_another_process_lets_the_rest_of_the_process_run(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (v TEXT)")
    holder.execute("BEGIN IMMEDIATE")  # this process holds the write lock
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.6)  # the child waits for the lock all this time
        holder.execute("INSERT INTO t (v) VALUES ('holder')")
        holder.execute("COMMIT")
        result = json.loads(child.stdout.readline())
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        holder.close()
    assert result["waited_s"] >= 0.5  # it did wait for the lock
    # ...and its other greenlet ran meanwhile: about one tick per 10 ms (a blocked loop gives 1 or 2)
    assert result["ticks"] >= 20, result
    rows = sqlite3.connect(path).execute("SELECT v FROM t ORDER BY rowid").fetchall()
    assert rows == [("holder",), ("child",)]


COMMIT_CHILD = r"""
import gevent.monkey
gevent.monkey.patch_all()
import json, sys
from gevent.monkey import get_original
from sqlalchemy import event, text
from server.db import Database

native_id = get_original("threading", "get_ident")
db = Database(f"sqlite:///{sys.argv[1]}")
statements = []

@event.listens_for(db.engine, "connect")
def trace(dbapi_connection, _record):
    dbapi_connection.set_trace_callback(lambda sql: statements.append((sql.split()[0], native_id())))

with db.writing() as session:
    session.execute(text("CREATE TABLE t (v TEXT)"))
    session.execute(text("INSERT INTO t (v) VALUES ('x')"))
    session.commit()
print(json.dumps({"main": native_id(), "statements": statements}))
"""


def test_a_server_process_commits_on_a_native_thread(tmp_path: Path) -> None:
    """The COMMIT (SQLite's wait for the disk) runs off the gevent loop's thread; the statements
    before it on the loop's own."""
    done = subprocess.run([sys.executable, "-c", COMMIT_CHILD, str(tmp_path / "c.db")], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2], check=True)
    result = json.loads(done.stdout)
    threads = {verb: thread for verb, thread in result["statements"]}
    assert threads["INSERT"] == result["main"]
    assert threads["COMMIT"] != result["main"], result
