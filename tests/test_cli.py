"""``python -m server``: db upgrade, staff add, device add, serve — as an operator runs them.

The commands that end by themselves run in this process (:mod:`tests.support.cli`: the same click
command, its standard input, output and error); ``serve`` and ``demo`` run as real processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from server.models import Device, Staff
from tests.conftest import TEST_CONFIG
from tests.support.cli import CliResult, run_cli
from tests.support.process import ServerProcess, repo_env

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, **server: str) -> Path:
    text = TEST_CONFIG.read_text().replace('database_url = "sqlite:///instance/test.db"   # replaced by each test',
                                           'database_url = "sqlite:///data/callwise.db"')
    for key, value in server.items():
        text = text.replace("[server]\n", f'[server]\n{key} = "{value}"\n', 1) if key != "mode" else \
            text.replace('mode = "demo"', f'mode = "{value}"', 1)
    path = tmp_path / "callwise.toml"
    path.write_text(text)
    return path


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> CliResult:
    return run_cli(*args, stdin=stdin, env=env)


def test_db_upgrade_creates_the_database_beside_the_config(tmp_path):
    config = write_config(tmp_path)
    result = cli("db", "upgrade", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "was empty" in result.stdout
    assert (tmp_path / "data" / "callwise.db").exists()
    again = cli("db", "upgrade", "--config", str(config))
    assert "was empty" not in again.stdout


def test_staff_add_reads_the_password_from_stdin_and_hashes_it(tmp_path):
    config = write_config(tmp_path)
    result = cli("staff", "add", "li.na", "--role", "manager", "--password-stdin", "--config", str(config),
                 stdin="s3cret-enough\n")
    assert result.returncode == 0, result.stderr
    assert "created manager li.na" in result.stdout
    engine = create_engine(f"sqlite:///{tmp_path}/data/callwise.db")
    with Session(engine) as session:
        staff = session.scalar(select(Staff).where(Staff.username == "li.na"))
        assert staff.role == "manager"
        assert "s3cret-enough" not in staff.password_hash
    again = cli("staff", "add", "li.na", "--role", "teller", "--password-stdin", "--config", str(config),
                stdin="another-secret\n")
    assert "updated teller li.na" in again.stdout


def test_staff_add_refuses_a_short_password(tmp_path):
    config = write_config(tmp_path)
    result = cli("staff", "add", "x", "--role", "teller", "--password-stdin", "--config", str(config), stdin="short\n")
    assert result.returncode != 0
    assert "at least 10 characters" in result.stderr


@pytest.mark.parametrize("password, why", [
    ("12345678", "at least 10 characters"),
    ("password", "at least 10 characters"),
    ("li.na-password", "username"),
    ("LI.NA.2024!", "username"),
    (" " * 8, "only spaces"),
    ("x" * 100_000, "at most 256 characters"),
    ("password2024", "most common"),
    ("1234567890", "most common"),
    ("abcdefghijkl", "simple sequence"),
    ("zzzzzzzzzzzz", "repeated"),
])
def test_staff_add_refuses_a_weak_password_in_one_line(tmp_path, password, why):
    config = write_config(tmp_path)
    result = cli("staff", "add", "li.na", "--role", "teller", "--password-stdin", "--config", str(config),
                 stdin=password + "\n")
    assert result.returncode != 0
    assert why in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    engine = create_engine(f"sqlite:///{tmp_path}/data/callwise.db")
    with Session(engine) as session:
        assert session.scalar(select(Staff).where(Staff.username == "li.na")) is None
    engine.dispose()


def test_device_add_prints_its_token_on_the_last_line(tmp_path):
    config = write_config(tmp_path)
    result = cli("device", "add", "lobby-tv", "--kind", "display", "--config", str(config))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    engine = create_engine(f"sqlite:///{tmp_path}/data/callwise.db")
    with Session(engine) as session:
        device = session.scalar(select(Device).where(Device.name == "lobby-tv"))
        assert device.kind == "display"
        assert token not in device.token_hash


def test_a_bad_config_stops_with_the_file_and_key_named(tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text(TEST_CONFIG.read_text().replace('kind = "standard"', 'kind = "slow"'))
    result = cli("db", "upgrade", "--config", str(config))
    assert result.returncode != 0
    assert "broken.toml: services[2].kind" in result.stderr


def test_config_comes_from_the_environment_variable(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = cli("db", "upgrade", env={"CALLWISE_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "callwise.db").exists()


def launch(tmp_path: Path, config: Path, *command: str, env: dict[str, str] | None = None) -> ServerProcess:
    """``python -m server COMMAND --config CONFIG --port P`` as a process; returns once it is healthy."""
    server = ServerProcess(tmp_path, name=command[0])
    server.spawn([sys.executable, "-m", "server", *command, "--config", str(config), "--port", str(server.port)],
                 repo_env(**(env or {})))
    return server


def stop(server: ServerProcess) -> tuple[str, str]:
    """SIGTERM (what systemd sends); its standard output and error."""
    server.stop(sig=signal.SIGTERM)
    return server.stdout(), server.stderr()


@pytest.mark.server
def test_serve_in_demo_mode_migrates_creates_demo_log_ins_and_prints_the_pages(tmp_path):
    config = write_config(tmp_path)
    process = launch(tmp_path, config, "serve")
    try:
        login = requests.post(f"{process.url}/api/v1/auth/login", timeout=5,
                              json={"username": "manager", "password": _demo_password(tmp_path, "manager")})
        assert login.status_code == 200
        page = requests.get(f"{process.url}/", timeout=5)
        assert page.status_code == 200 and "测试支行" in page.text
    finally:
        out, _ = stop(process)
    for page in ("/kiosk?device=", "/counter", "/display?device=", "/manager", "manager / "):
        assert page in out
    # SIGTERM (what systemd sends) is a clean stop: the server says so and exits with 0.
    assert "Callwise stopped." in out
    assert process.process.returncode == 0


def _demo_password(tmp_path: Path, username: str) -> str:
    import json

    return json.loads((tmp_path / "instance" / "demo-credentials.json").read_text())["staff"][username]


@pytest.mark.server
def test_serve_in_production_mode_creates_no_demo_accounts(tmp_path):
    config = write_config(tmp_path, mode="production")
    (tmp_path / "callwise.toml").write_text(config.read_text().replace('mode = "manual"', 'mode = "system"'))
    process = launch(tmp_path, config, "serve", env={"CALLWISE_SECRET_KEY": "x" * 48})
    out, _ = stop(process)
    assert "/ " not in out.split("\n", 1)[1]  # no "user / password" lines
    engine = create_engine(f"sqlite:///{tmp_path}/data/callwise.db")
    with Session(engine) as session:
        assert session.scalars(select(Staff)).all() == []
        assert session.scalars(select(Device)).all() == []
    assert not (tmp_path / "instance").exists()


def test_serve_in_production_mode_refuses_to_start_without_a_secret(tmp_path):
    config = write_config(tmp_path, mode="production")
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("secret_key"))
                      .replace('mode = "manual"', 'mode = "system"'))
    env = {k: v for k, v in os.environ.items() if k != "CALLWISE_SECRET_KEY"}
    result = subprocess.run([sys.executable, "-m", "server", "serve", "--config", str(config)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "server.secret_key: production mode needs a secret key" in result.stderr


@pytest.mark.server
def test_demo_serves_a_simulated_day_through_the_api_on_its_own_database(tmp_path):
    config = write_config(tmp_path)
    process = launch(tmp_path, config, "demo", "--speed", "600")
    url = process.url
    try:
        import json

        password = json.loads((tmp_path / "instance" / "demo-day-credentials.json").read_text())["staff"]["manager"]
        token = requests.post(f"{url}/api/v1/auth/login", json={"username": "manager", "password": password},
                              timeout=5).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        start = requests.get(f"{url}/api/v1/clock", headers=headers, timeout=5).json()["now"]
        deadline = time.monotonic() + 60
        served = []
        while time.monotonic() < deadline and not served:
            counters = requests.get(f"{url}/api/v1/counters", headers=headers, timeout=5).json()
            served = [c for c in counters if c["state"] in ("calling", "serving")]
            time.sleep(0.1)
        assert served, "no simulated teller called anybody within a minute"
        assert requests.get(f"{url}/api/v1/clock", headers=headers, timeout=5).json()["now"] > start  # the day moves
    finally:
        out, err = stop(process)
    assert "demo-day-credentials.json" in out and "Simulated customers and tellers are at work" in out, (out, err)
    # The simulated day has its own database; the normal one was never made.
    assert (tmp_path / "instance" / "demo-day.db").exists()
    assert not (tmp_path / "data" / "callwise.db").exists()
