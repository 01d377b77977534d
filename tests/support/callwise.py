"""A real Callwise server in a child process, for the tests that need what a branch really runs.

``python -m server serve`` (gevent, monkey-patched) on a port of its own (a
:class:`~tests.support.process.ServerProcess`), accounts made with the real CLI (in this process:
:mod:`tests.support.cli`), and HTTP over the loopback. No conftest fixture: a test module builds its
own with :meth:`CallwiseServer.running`::

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with CallwiseServer.running(tmp_path_factory.mktemp("realtime"), staff={"ana": "teller"},
                                    devices={"lobby": "display", "door": "kiosk"}) as server:
            yield server

The server runs in its own process group, which is always SIGKILLed on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from tests.support.cli import run_cli
from tests.support.process import REPO, START_TIMEOUT_S, ServerProcess, repo_env

BRANCH_CONFIG = REPO / "tests" / "branch.toml"
PASSWORD = "correct-horse-9"


def write_config(directory: Path, port: int, **server: str) -> Path:
    """tests/branch.toml with its [server] pointed at a SQLite file in ``directory`` and at ``port``
    (and ``server``'s further keys, e.g. ``async_mode="threading"``).

    Everything else (demo mode, the manual clock, services, counters, generous limits) stays as the
    API suite has it, so both suites run against the same branch.
    """
    text = BRANCH_CONFIG.read_text(encoding="utf-8")
    database = directory / "callwise.db"
    server_section = (
        "[server]\n"
        'mode = "demo"\n'
        f'database_url = "sqlite:///{database}"\n'
        f'public_url = "http://127.0.0.1:{port}"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        + "".join(f'{key} = "{value}"\n' for key, value in server.items())
    )
    text, replaced = re.subn(r"(?ms)^\[server\]\n.*?(?=^\[)", server_section + "\n", text, count=1)
    assert replaced == 1, f"no [server] section in {BRANCH_CONFIG}"
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    parsed = tomllib.loads(text)
    assert parsed["server"]["port"] == port and parsed["clock"]["mode"] == "manual", parsed
    return path


class CallwiseServer(ServerProcess):
    """One branch server: its config and database in ``directory``, its process, its accounts.

    ``tokens`` maps account names to bearer tokens: a staff username to a log-in token from
    ``POST /api/v1/auth/login``, a device name to its device token.
    """

    extra_env: dict[str, str] = {}  # for the server and its CLI commands, on top of this environment

    def __init__(self, directory: Path, port: int | None = None) -> None:
        super().__init__(directory, port)
        self.config_path = self.write_config()
        self.tokens: dict[str, str] = {}

    def write_config(self) -> Path:
        """Write the server's config.toml (a subclass may write another) and return its path."""
        return write_config(self.directory, self.port)

    # --- the life of the process -----------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        directory: Path,
        *,
        staff: dict[str, str] | None = None,
        devices: dict[str, str] | None = None,
    ) -> Iterator[CallwiseServer]:
        """Make the accounts with the CLI, start the server, log the staff in; kill it at the end.

        Names must differ from the demo accounts (teller1, manager, kiosk-1, ...): demo mode gives
        those new random passwords and tokens on the first start.
        """
        from server.demo import DEMO_DEVICES, DEMO_STAFF

        taken = {name for name, *_ in DEMO_STAFF} | {name for name, _ in DEMO_DEVICES}
        clashes = sorted(taken & (set(staff or {}) | set(devices or {})))
        assert not clashes, f"{clashes} are demo accounts, which serve would reset; pick other names"
        server = cls(directory)
        try:
            server.create_accounts(staff or {}, devices or {})
            server.start()
            for username in staff or {}:
                server.tokens[username] = server.login(username)
            yield server
        finally:
            server.kill()

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """``python -m server serve`` in a new process group; returns once /api/v1/health answers 200."""
        self.spawn([sys.executable, "-m", "server", "serve", "--config", str(self.config_path),
                    "--port", str(self.port)], self.environment(), timeout=timeout)

    def restart(self) -> None:
        """Start again on the same config, database and port (after :meth:`stop` or :meth:`kill`)."""
        self.start()

    def environment(self) -> dict[str, str]:
        return repo_env(**self.extra_env)

    # --- accounts, with the real CLI -------------------------------------------------------------

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``python -m server ARGS --config CONFIG`` (in this process); return its standard output,
        fail with its output on an error."""
        done = run_cli(*args, "--config", str(self.config_path), stdin=stdin,
                       env={"CALLWISE_CONFIG": None, **self.extra_env})  # type: ignore[dict-item]
        if done.exit_code != 0:
            raise AssertionError(f"`python -m server {' '.join(args)}` exited with {done.exit_code}\n"
                                 f"{done.stdout}{done.stderr}")
        return done.stdout

    def add_staff(self, username: str, role: str = "teller", password: str = PASSWORD) -> None:
        self.cli("staff", "add", username, "--role", role, "--password-stdin", stdin=password + "\n")

    def add_device(self, name: str, kind: str) -> str:
        """Register a device and remember its token (the last line the CLI prints)."""
        token = self.cli("device", "add", name, "--kind", kind).strip().splitlines()[-1].strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token), f"not a device token: {token!r}"
        self.tokens[name] = token
        return token

    def create_accounts(self, staff: dict[str, str], devices: dict[str, str]) -> None:
        """Staff (username → role) and devices (name → kind), one CLI command each."""
        for username, role in staff.items():
            self.add_staff(username, role)
        for name, kind in devices.items():
            self.add_device(name, kind)

    # --- HTTP ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> requests.Response:
        """``method /api/v1{path}`` as ``who`` (an account name in :attr:`tokens`, or None)."""
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return requests.request(method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=10, **kwargs)

    def get(self, path: str, who: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, who, **kwargs)

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def issue(self, service: str, kiosk: str) -> dict[str, Any]:
        """A ticket from the kiosk device named ``kiosk``."""
        response = self.post("/tickets", who=kiosk, json={"service": service})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def ticket(self, token: str) -> dict[str, Any]:
        response = self.get(f"/tickets/{token}")
        assert response.status_code == 200, response.text
        return dict(response.json())


