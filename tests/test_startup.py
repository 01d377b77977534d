"""Starting a server as a careless operator would: every failure one clear line and a non-zero exit.

Issue 16, finding 9: start-up failures other than config mistakes were 46-135-line tracebacks (a
read-only database folder with the path never named, a busy port after the "serving at" banner with
every log-in, PostgreSQL down, an unsupported driver), and ``backup`` with no database reported success
and left a 0-byte file. Finding 7: two ``serve`` processes on one SQLite file started silently, and
several demo processes crashed racing to create the demo accounts. Finding 10: the database, its
backups and the instance folder were readable by every user of the machine; a 1-character secret key
was accepted.

Each command runs as a real ``python -m server`` process (what an operator runs). Permission tests
need a user the kernel holds to file modes: when the tests run as root, the command runs without
root's power to override them (CAP_DAC_OVERRIDE dropped from its capability bounding set).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from server.models import Device, Staff
from tests.support.callwise import CallwiseServer
from tests.support.process import REPO, ServerProcess, free_port, repo_env

SECRET = "a-production-secret-key-of-48-characters-0123456"


# --- running the command line as a process --------------------------------------------------------------


def _without_root_override() -> None:
    """preexec_fn: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so that root's
    child obeys file modes like any user (the next exec recomputes its capabilities from the set)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m server ARGS`` as a process, never with root's override of file modes."""
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=cwd, env=repo_env(**(env or {})),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          preexec_fn=_without_root_override if os.geteuid() == 0 else None)


def assert_fails_in_one_line(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """Exit code non-zero, standard error one line (click's "Error: ..."), no traceback, ``phrases`` in it."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def config_file(folder: Path, **server: str) -> Path:
    """tests/branch.toml (demo mode, manual clock) with a SQLite database in ``folder``/data and
    ``server``'s keys; ``mode="production"`` also moves to the system clock (production refuses the
    manual one)."""
    text_ = (REPO / "tests" / "branch.toml").read_text(encoding="utf-8")
    text_ = text_.replace('database_url = "sqlite:///instance/test.db"   # replaced by each test',
                          'database_url = "sqlite:///data/callwise.db"')
    for key, value in server.items():
        text_ = re.sub(rf"(?m)^{key} = .*$", "", text_)
        text_ = text_.replace("[server]\n", f'[server]\n{key} = "{value}"\n', 1)
    if server.get("mode") == "production":
        text_ = re.sub(r"(?ms)^\[clock\]\n.*?(?=^\[)", '[clock]\nmode = "system"\n\n', text_, count=1)
        text_ = re.sub(r'(?m)^secret_key = .*$', "", text_)
    path = folder / "callwise.toml"
    path.write_text(text_, encoding="utf-8")
    return path


# --- finding 9: one line for each way start-up fails -------------------------------------------------------


@pytest.mark.server
def test_a_read_only_database_folder_is_named(tmp_path):
    """Issue 16, finding 9."""
    folder = tmp_path / "data"
    folder.mkdir(mode=0o555)
    folder.chmod(0o555)
    config = config_file(tmp_path)
    result = run("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_fails_in_one_line(result, f"cannot write the database folder {folder}", "permission denied")
    assert "serving" not in result.stdout


@pytest.mark.server
def test_a_read_only_database_file_is_named(tmp_path):
    config = config_file(tmp_path)
    assert run("db", "upgrade", "--config", str(config), cwd=tmp_path).returncode == 0
    database = tmp_path / "data" / "callwise.db"
    database.chmod(0o400)
    result = run("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_fails_in_one_line(result, f"cannot write the database {database}")


@pytest.mark.server
def test_an_unwritable_instance_folder_is_named(tmp_path):
    """Issue 16, finding 9: demo mode keeps its log-ins in instance/."""
    (tmp_path / "instance").mkdir(mode=0o500)
    (tmp_path / "instance").chmod(0o500)
    config = config_file(tmp_path)
    result = run("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_fails_in_one_line(result, f"cannot write {tmp_path / 'instance'}/", "permission denied",
                             f"make {tmp_path / 'instance'} writable")


@pytest.mark.server
def test_a_busy_port_is_named_and_no_banner_or_log_in_is_printed(tmp_path):
    """Issue 16, finding 9: the banner (with every demo log-in) came before the port failed."""
    config = config_file(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--config", str(config), "--port", str(port), cwd=tmp_path)
    assert_fails_in_one_line(result, f"cannot listen on 127.0.0.1:{port}", "already in use", "--port")
    assert result.stdout == ""  # no "serving at", no "manager / <password>"


@pytest.mark.server
@pytest.mark.parametrize("url, phrases", [
    ("postgresql+psycopg://callwise@127.0.0.1:1/callwise?connect_timeout=3",
     ("cannot use PostgreSQL at 127.0.0.1:1, database 'callwise'", "check that it runs")),
    ("mysql://callwise@127.0.0.1/callwise", ("server.database_url: Value error, Callwise runs on SQLite or "
                                             "PostgreSQL, not 'mysql'",)),
    ("not a url", ("server.database_url: Value error, not a database URL",)),
    ("postgresql+nosuchdriver://callwise@127.0.0.1/callwise", ("server.database_url:", "nosuchdriver")),
    ("postgresql+pg8000://callwise@127.0.0.1/callwise", ("the database driver 'pg8000' is not installed",
                                                         "postgresql+psycopg://")),
])
def test_an_unreachable_or_unsupported_database_is_one_line(tmp_path, url, phrases):
    """Issue 16, finding 9: PostgreSQL down, an unsupported driver, a URL that is none."""
    if "pg8000" in url and importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here")
    config = config_file(tmp_path, database_url=url)
    result = run("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
    assert_fails_in_one_line(result, *phrases)


@pytest.mark.parametrize("command", [
    ("db", "upgrade"),
    ("staff", "add", "li.na", "--role", "teller", "--password-stdin"),
    ("device", "add", "door", "--kind", "kiosk"),
    ("demo-accounts", "remove"),
])
def test_other_commands_report_an_unreachable_database_in_one_line(tmp_path, command):
    config = config_file(tmp_path, database_url="postgresql+psycopg://callwise@127.0.0.1:1/callwise?connect_timeout=3")
    result = run(*command, "--config", str(config), cwd=tmp_path)
    assert_fails_in_one_line(result, "cannot use PostgreSQL at 127.0.0.1:1")


def test_a_short_secret_key_is_refused_in_production(tmp_path):
    """Issue 16, finding 10: a 1-character secret key was accepted."""
    config = config_file(tmp_path, mode="production")
    result = run("serve", "--config", str(config), cwd=tmp_path, env={"CALLWISE_SECRET_KEY": "k"})
    assert_fails_in_one_line(result, "server.secret_key", "has 1 characters; production needs at least 32")


# --- backup ------------------------------------------------------------------------------------------------


def test_backup_without_a_database_fails_and_leaves_no_file(tmp_path):
    """Issue 16, finding 9: it reported success and left a 0-byte database file."""
    config = config_file(tmp_path)
    result = run("backup", "--config", str(config), cwd=tmp_path)
    assert_fails_in_one_line(result, f"there is no database at {tmp_path / 'data' / 'callwise.db'}")
    assert not (tmp_path / "data" / "callwise.db").exists()  # the source was not created either
    backups = tmp_path / "instance" / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []
    named = run("backup", "--config", str(config), "--to", str(tmp_path / "copy.db"), cwd=tmp_path)
    assert_fails_in_one_line(named, "there is no database")
    assert not (tmp_path / "copy.db").exists()


def test_backups_and_their_folder_are_private(tmp_path):
    """Issue 16, finding 10: backups were readable by every user of the machine."""
    config = config_file(tmp_path)
    assert run("db", "upgrade", "--config", str(config), cwd=tmp_path).returncode == 0
    result = run("backup", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip().removeprefix("backup written: "))
    assert written.parent == tmp_path / "instance" / "backups"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700
    assert [p.name for p in written.parent.iterdir()] == [written.name]  # no partial file left
    with create_engine(f"sqlite:///{written}").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM branches")).scalar() == 1


# --- finding 10: private files ---------------------------------------------------------------------------


@pytest.mark.server
def test_the_database_its_wal_and_the_instance_folder_are_private(tmp_path):
    """Issue 16, finding 10: the database was readable by every user of the machine."""
    server = CallwiseServer(tmp_path)  # tests/support/callwise.py: its database is tmp_path/callwise.db
    server.start()
    try:
        assert server.login("manager", json.loads((tmp_path / "instance" / "demo-credentials.json")
                                                  .read_text())["staff"]["manager"])
        for name in ("callwise.db", "callwise.db-wal", "callwise.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        instance = tmp_path / "instance"
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        for path in instance.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        server.kill()


def test_an_existing_world_readable_database_loses_the_others_access(tmp_path):
    from server.db import Database

    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    Database(f"sqlite:///{database}").dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o640  # the group's access is the operator's choice


# --- finding 7: one serve per SQLite file, and demo start-up with several processes ------------------------


@pytest.mark.server
def test_a_second_serve_on_the_same_sqlite_file_is_refused_and_a_crash_does_not_block_the_restart(tmp_path):
    """Issue 16, finding 7: the second process started silently and its displays heard nothing."""
    first = CallwiseServer(tmp_path)
    first.start()
    try:
        second = run("serve", "--config", str(first.config_path), "--port", str(free_port()), cwd=tmp_path)
        assert_fails_in_one_line(second, f"another Callwise server (pid {first.pid}) already serves "
                                         f"{tmp_path / 'callwise.db'}", "[server] message_queue")
        assert second.stdout == ""
        first.kill()  # SIGKILL: no clean-up at all; the kernel drops the lock with the process
        first.start()
        assert requests.get(f"{first.base_url}/api/v1/health", timeout=5).status_code == 200
    finally:
        first.kill()


@pytest.mark.server
def test_a_second_demo_does_not_delete_the_database_the_first_one_serves(tmp_path):
    """``demo`` makes its database afresh at every start: a second one used to delete the first's."""
    config = config_file(tmp_path)
    first = ServerProcess(tmp_path, name="demo")
    first.spawn([sys.executable, "-m", "server", "demo", "--config", str(config), "--speed", "60",
                 "--port", str(first.port)], repo_env())
    try:
        second = run("demo", "--config", str(config), "--port", str(free_port()), cwd=tmp_path)
        assert_fails_in_one_line(second, f"another Callwise server (pid {first.pid}) already serves "
                                         f"{tmp_path / 'instance' / 'demo-day.db'}")
        assert (tmp_path / "instance" / "demo-day.db").exists()
        assert requests.get(f"{first.base_url}/api/v1/health", timeout=5).status_code == 200
    finally:
        first.kill()


@pytest.mark.server
def test_several_demo_processes_on_one_sqlite_file_with_a_message_queue_start_with_the_same_log_ins(
        tmp_path, redis_url):
    """Issue 16, finding 7: demo processes started at once crashed racing to create the demo accounts.
    With a message queue several processes may share the file; they take turns making the accounts and
    all print the same log-ins."""
    config = config_file(tmp_path, message_queue=redis_url)
    servers = [ServerProcess(tmp_path, name=f"serve{i}") for i in range(3)]
    failures: list[BaseException] = []
    # Processes must be started from this thread (their PR_SET_PDEATHSIG is tied to it): spawn them
    # back to back, then wait for all of them together.
    threads = []
    for server in servers:
        server.starts += 1
        server.stdout_path = tmp_path / f"{server.name}-1.out"
        server.stderr_path = tmp_path / f"{server.name}-1.err"
        with open(server.stdout_path, "wb") as out, open(server.stderr_path, "wb") as err:
            server.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--config", str(config), "--port", str(server.port)],
                cwd=tmp_path, env=repo_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True)
        threads.append(threading.Thread(target=lambda s=server: _healthy(s, failures)))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        assert not failures, "\n".join(f"{s.name}: {s.stderr()}" for s in servers)
        credentials = json.loads((tmp_path / "instance" / "demo-credentials.json").read_text())
        for server in servers:
            assert f"manager / {credentials['staff']['manager']}" in server.stdout(), server.stdout()
            answer = requests.post(f"{server.base_url}/api/v1/auth/login", timeout=10,
                                   json={"username": "manager", "password": credentials["staff"]["manager"]})
            assert answer.status_code == 200, answer.text
        engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'callwise.db'}")
        with Session(engine) as session:
            assert len(session.scalars(select(Staff).where(Staff.demo)).all()) == 5
            assert len(session.scalars(select(Device).where(Device.demo)).all()) == 2
        engine.dispose()
    finally:
        for server in servers:
            server.kill()


def _healthy(server: ServerProcess, failures: list[BaseException]) -> None:
    try:
        server.wait_until_healthy(60)
    except BaseException as exc:  # noqa: BLE001 - collected for the test's own assertion
        failures.append(exc)


# --- finding 4: demo accounts in production ------------------------------------------------------------------


def make_demo_database(folder: Path) -> dict:  # type: ignore[type-arg]
    """A database that ran in demo mode (its accounts made, their log-ins in instance/); returns them."""
    from server import create_app
    from server.demo import ensure_demo_accounts

    app = create_app(config_file(folder))
    runtime = app.extensions["callwise"]
    try:
        return ensure_demo_accounts(runtime)
    finally:
        runtime.db.dispose()


def demo_rows(folder: Path, **values: object) -> list[tuple[str, bool, bool]]:
    """(name, demo, usable) of every staff account and device; ``values`` are first written to every row
    (e.g. ``demo=False``: a database from before the mark)."""
    engine = create_engine(f"sqlite:///{folder / 'data' / 'callwise.db'}")
    with engine.begin() as connection:
        for table in ("staff", "devices"):
            for column, value in values.items():
                connection.execute(text(f"UPDATE {table} SET {column} = :value"), {"value": value})
    with Session(engine) as session:
        rows = [(s.username, s.demo, s.active) for s in session.scalars(select(Staff))]
        rows += [(d.name, d.demo, d.revoked_at is None) for d in session.scalars(select(Device))]
    engine.dispose()
    return sorted(rows)


def test_demo_mode_marks_the_accounts_and_devices_it_makes(tmp_path):
    make_demo_database(tmp_path)
    rows = demo_rows(tmp_path)
    assert [name for name, *_ in rows] == ["admin", "display-1", "kiosk-1", "manager", "teller1", "teller2", "teller3"]
    assert all(demo and usable for _, demo, usable in rows)


@pytest.mark.server
def test_production_refuses_to_start_while_demo_log_ins_work_and_starts_once_they_are_removed(tmp_path, monkeypatch):
    """Issue 16, finding 4: demo accounts and demo device tokens kept working in production, with their
    passwords in plain text in instance/demo-credentials.json."""
    from server.accounts import login, resolve
    from server.bootstrap import open_runtime
    from server.config import load_config
    from server.errors import Unauthorized
    from tests.support.cli import run_cli

    demo = make_demo_database(tmp_path)
    config = config_file(tmp_path, mode="production")
    env = {"CALLWISE_SECRET_KEY": SECRET}
    refused = run("serve", "--config", str(config), "--port", str(free_port()), cwd=tmp_path, env=env)
    line = assert_fails_in_one_line(refused, "production mode: demo mode's accounts and devices still work",
                                    "teller1", "kiosk-1",
                                    f"remove them first with: python -m server demo-accounts remove --config {config}")
    assert demo["staff"]["admin"] not in line  # names, never passwords

    removed = run_cli("demo-accounts", "remove", "--config", str(config), env=env)
    assert removed.exit_code == 0, removed.stderr
    assert "5 demo staff accounts disabled: admin, manager, teller1, teller2, teller3" in removed.stdout
    assert "2 demo devices revoked: display-1, kiosk-1" in removed.stdout
    assert not (tmp_path / "instance" / "demo-credentials.json").exists()
    assert all(not usable for _, _, usable in demo_rows(tmp_path))
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'callwise.db'}")
    with engine.connect() as connection:
        audit = connection.execute(text("SELECT via, action, target_name FROM audit_log ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in audit] == [("cli", "staff_disabled", name) for name in
                                             ("admin", "manager", "teller1", "teller2", "teller3")] + \
        [("cli", "device_revoked", name) for name in ("display-1", "kiosk-1")]

    monkeypatch.setenv("CALLWISE_SECRET_KEY", SECRET)
    runtime = open_runtime(load_config(config))
    try:
        for username, password in demo["staff"].items():
            with pytest.raises(Unauthorized):
                login(runtime, username, password)
        for token in demo["devices"].values():
            assert resolve(runtime, token) is None
    finally:
        runtime.db.dispose()
    # The names are free for real accounts, and real accounts do not count as demo ones.
    added = run_cli("staff", "add", "admin", "--role", "admin", "--password-stdin", "--config", str(config),
                    stdin="real-boss-password-7\n", env=env)
    assert added.exit_code == 0, added.stderr
    server = ServerProcess(tmp_path)
    try:
        server.spawn([sys.executable, "-m", "server", "serve", "--config", str(config), "--port", str(server.port)],
                     repo_env(**env))
        answer = requests.post(f"{server.base_url}/api/v1/auth/login", timeout=10,
                               json={"username": "admin", "password": "real-boss-password-7"})
        assert answer.status_code == 200, answer.text
    finally:
        server.kill()


@pytest.mark.parametrize("keep_file", [True, False])
def test_demo_accounts_of_a_database_from_before_the_mark_are_recognised(tmp_path, monkeypatch, keep_file):
    """A database that ran demo mode before migration 0008 has no demo marks: its accounts are known by
    demo mode's display names (or their passwords in a credentials file still there), its devices by
    their tokens in that file or by demo mode's names next to a demo account's creation."""
    from server.bootstrap import open_runtime
    from server.config import load_config
    from server.demo import refuse_demo_leftovers
    from server.startup import StartupError

    make_demo_database(tmp_path)
    demo_rows(tmp_path, demo=False)
    if not keep_file:
        (tmp_path / "instance" / "demo-credentials.json").unlink()
    monkeypatch.setenv("CALLWISE_SECRET_KEY", SECRET)
    runtime = open_runtime(load_config(config_file(tmp_path, mode="production")))
    try:
        with pytest.raises(StartupError, match="admin, manager, teller1, teller2, teller3, display-1, kiosk-1"):
            refuse_demo_leftovers(runtime)
    finally:
        runtime.db.dispose()
    assert all(demo for _, demo, _ in demo_rows(tmp_path))


def test_an_account_that_only_shares_a_demo_username_is_not_taken_for_a_demo_one(tmp_path, monkeypatch):
    from server.accounts import add_device, save_staff
    from server.bootstrap import open_runtime
    from server.config import load_config
    from server.demo import refuse_demo_leftovers

    monkeypatch.setenv("CALLWISE_SECRET_KEY", SECRET)
    runtime = open_runtime(load_config(config_file(tmp_path, mode="production")))
    try:
        save_staff(runtime, "manager", "manager", "lobby-lead-password-7", display_name="Li Na")
        add_device(runtime, "kiosk-1", "kiosk")
        refuse_demo_leftovers(runtime)  # nothing to refuse
    finally:
        runtime.db.dispose()
    assert not any(demo for _, demo, _ in demo_rows(tmp_path))
