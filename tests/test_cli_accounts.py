"""Issue 16, finding 3, from the command line: ``staff list|disable|enable|reset-password`` and
``device list|revoke``, as an operator runs them (in this process: tests/support/cli.py)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from server.accounts import hash_token
from server.models import AuditEntry, AuthToken, Device, Staff
from tests.test_cli import cli, write_config

PASSWORD = "correct-horse-9"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A database with an admin, two tellers (one logged in), a kiosk and a display."""
    path = write_config(tmp_path)
    for username, role in (("boss", "admin"), ("ana", "teller"), ("bo", "teller")):
        result = cli("staff", "add", username, "--role", role, "--password-stdin", "--config", str(path),
                     stdin=PASSWORD + "\n")
        assert result.returncode == 0, result.stderr
    for name, kind in (("door", "kiosk"), ("lobby screen", "display")):
        assert cli("device", "add", name, "--kind", kind, "--config", str(path)).returncode == 0
    return path


def database(config: Path) -> Session:
    return Session(create_engine(f"sqlite:///{config.parent}/data/callwise.db"))


def run(config: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    result = cli(*args, "--config", str(config), stdin=stdin)
    return result.returncode, result.stdout, result.stderr


def test_staff_list_is_a_table_with_role_branch_state_and_last_seen(config):
    code, out, _ = run(config, "staff", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["USERNAME", "NAME", "ROLE", "BRANCH", "STATE", "LAST", "SEEN"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["boss"][:5] == ["boss", "boss", "admin", "(all)", "active"]
    assert rows["ana"][:5] == ["ana", "ana", "teller", "test", "active"]
    assert rows["ana"][5] == "never"
    header_state = lines[0].index("STATE")
    assert all(line[header_state:].startswith("active") for line in lines[1:])  # columns line up


def test_staff_disable_ends_the_log_ins_and_enable_lets_the_account_in_again(config):
    from server import create_app
    from server.accounts import login, resolve

    app = create_app(config)
    rt = app.extensions["callwise"]
    try:
        token = login(rt, "ana", PASSWORD)["token"]
        assert resolve(rt, token) is not None
        code, out, _ = run(config, "staff", "disable", "ana")
        assert code == 0 and "disabled teller ana" in out
        assert resolve(rt, token) is None
        assert "disabled" in run(config, "staff", "list")[1].splitlines()[1]
        with pytest.raises(Exception, match="wrong username or password"):
            login(rt, "ana", PASSWORD)
        code, out, _ = run(config, "staff", "enable", "ana")
        assert code == 0 and "enabled teller ana" in out
        assert login(rt, "ana", PASSWORD)["token"]
        assert resolve(rt, token) is None  # the old log-in stays ended
    finally:
        rt.db.dispose()
    with database(config) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        actions = [(e.action, e.target_name, e.via, e.actor_name) for e in entries]
    user = getpass.getuser()
    assert ("staff_disabled", "ana", "cli", user) in actions
    assert ("staff_enabled", "ana", "cli", user) in actions
    assert ("staff_added", "boss", "cli", user) in actions
    assert ("device_added", "door", "cli", user) in actions


@pytest.mark.parametrize("args, message", [
    (("staff", "disable", "nobody"), "there is no staff account 'nobody'"),
    (("staff", "enable", "ana"), "'ana' is already active"),
    (("staff", "disable", "boss"), "'boss' is the last active admin"),
    (("staff", "reset-password", "nobody"), "there is no staff account 'nobody'"),
    (("device", "revoke", "nothing"), "there is no device 'nothing'"),
    (("device", "revoke", "door", "--branch", "nowhere"), "there is no branch 'nowhere'"),
    (("device", "list", "--branch", "nowhere"), "there is no branch 'nowhere'"),
])
def test_refusals_are_one_line_with_a_non_zero_exit_and_change_nothing(config, args, message):
    with database(config) as session:
        before = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    code, out, err = run(config, *args)
    assert code != 0
    assert err.strip() == f"Error: {message}" or (err.startswith("Error: ") and message in err), err
    assert len(err.strip().splitlines()) == 1
    with database(config) as session:
        assert session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == before
        assert all(s.active for s in session.scalars(select(Staff)))


def test_reset_password_prints_a_generated_password_once_and_ends_the_log_ins(config):
    from server import create_app
    from server.accounts import login, resolve

    app = create_app(config)
    rt = app.extensions["callwise"]
    try:
        token = login(rt, "ana", PASSWORD)["token"]
        code, out, _ = run(config, "staff", "reset-password", "ana")
        assert code == 0
        password = out.splitlines()[-1]
        assert len(password) == 19 and password.count("-") == 3
        assert resolve(rt, token) is None
        assert login(rt, "ana", password)["token"]
        code, out, err = run(config, "staff", "reset-password", "ana", "--password-stdin", stdin="1234567890\n")
        assert code != 0 and "most common" in err
        code, out, _ = run(config, "staff", "reset-password", "ana", "--password-stdin", stdin="river-lamp-7-oak\n")
        assert code == 0 and "river-lamp-7-oak" not in out
        assert login(rt, "ana", "river-lamp-7-oak")["token"]
    finally:
        rt.db.dispose()


def test_device_list_and_revoke(config):
    code, out, _ = run(config, "device", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "BRANCH", "STATE", "LAST", "SEEN"]
    assert any(line.startswith("lobby screen  display") for line in lines)  # a name with a space, aligned
    token = cli("device", "add", "door", "--kind", "kiosk", "--config", str(config)).stdout.splitlines()[-1]
    code, out, _ = run(config, "device", "revoke", "door")
    assert code == 0 and "revoked kiosk 'door' of branch test" in out
    with database(config) as session:
        door = session.scalar(select(Device).where(Device.name == "door"))
        assert door.revoked_at is not None and door.token_hash == hash_token(token)
        assert session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "device_revoked"
    assert "revoked" in next(line for line in run(config, "device", "list")[1].splitlines() if "door" in line)
    code, _, err = run(config, "device", "revoke", "door")
    assert code != 0 and "already revoked" in err


def test_a_revoked_device_token_and_a_disabled_log_in_fail_at_once_in_a_running_app(config):
    from server import create_app
    from server.accounts import login

    token = cli("device", "add", "door", "--kind", "kiosk", "--config", str(config)).stdout.splitlines()[-1]
    app = create_app(config)
    rt = app.extensions["callwise"]
    try:
        client = app.test_client()
        staff_token = login(rt, "ana", PASSWORD)["token"]
        assert client.get("/api/v1/services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        run(config, "device", "revoke", "door")
        run(config, "staff", "disable", "ana")
        answer = client.post("/api/v1/tickets", json={"service": "A"}, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert client.get("/api/v1/queue", headers={"Authorization": f"Bearer {staff_token}"}).status_code == 401
    finally:
        rt.db.dispose()
    with database(config) as session:
        assert all(t.revoked_at is not None for t in session.scalars(select(AuthToken)))
