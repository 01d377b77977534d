"""A real Callwise server in a child process, and a real Socket.IO client to listen to it.

For the tests that need what a branch really runs: ``python -m server serve`` (gevent, monkey-patched)
on a port of its own, accounts made with the real CLI, and clients that speak HTTP and Socket.IO over
the loopback. No conftest fixture: a test module builds its own with :meth:`CallwiseServer.running`::

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with CallwiseServer.running(tmp_path_factory.mktemp("realtime"), staff={"ana": "teller"},
                                    devices={"lobby": "display", "door": "kiosk"}) as server:
            yield server

The server runs in its own process group, which is always SIGKILLed on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
import socketio

REPO = Path(__file__).resolve().parent.parent
BRANCH_CONFIG = REPO / "tests" / "branch.toml"
PASSWORD = "correct-horse-9"
START_TIMEOUT_S = 30.0
EVENT_TIMEOUT_S = 5.0
CONNECTED, DISCONNECTED = "(connected)", "(disconnected)"  # recorded by Listener beside the server's events


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(directory: Path, port: int) -> Path:
    """tests/branch.toml with its [server] pointed at a SQLite file in ``directory`` and at ``port``.

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
    )
    text, replaced = re.subn(r"(?ms)^\[server\]\n.*?(?=^\[)", server_section + "\n", text, count=1)
    assert replaced == 1, f"no [server] section in {BRANCH_CONFIG}"
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    parsed = tomllib.loads(text)
    assert parsed["server"]["port"] == port and parsed["clock"]["mode"] == "manual", parsed
    return path


class ServerFailed(AssertionError):
    """The server process did not come up (the message carries its stderr)."""


class CallwiseServer:
    """One branch server: its config and database in ``directory``, its process, its accounts.

    ``tokens`` maps account names to bearer tokens: a staff username to a log-in token from
    ``POST /api/v1/auth/login``, a device name to its device token.
    """

    cli_timeout = 60.0

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.config_path = write_config(self.directory, self.port)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.tokens: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stderr_path: Path | None = None

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
        assert not self.running_now, "the server is already running"
        self.starts += 1
        stdout = open(self.directory / f"serve-{self.starts}.out", "wb")  # noqa: SIM115 - the child keeps it
        self._stderr_path = self.directory / f"serve-{self.starts}.err"
        stderr = open(self._stderr_path, "wb")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--config", str(self.config_path), "--port", str(self.port)],
                cwd=self.directory,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: one killpg ends it and anything it starts
                preexec_fn=_die_with_parent_hook(),
            )
        finally:
            stdout.close()
            stderr.close()
        self._wait_until_healthy(timeout)

    def _wait_until_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"the server exited with {self.process.returncode} while starting\n{self.stderr()}")
            try:
                response = requests.get(f"{self.base_url}/api/v1/health", timeout=1)
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            except requests.RequestException as exc:
                last_error = exc
            time.sleep(0.05)  # polling for readiness, not waiting for an outcome
        self.kill()
        raise ServerFailed(f"no 200 from /api/v1/health within {timeout:.0f} s (last: {last_error})\n{self.stderr()}")

    def stop(self, timeout: float = 10.0) -> int:
        """Stop as an operator would (Ctrl-C) and return the exit code; SIGKILL and fail if it has not
        exited within ``timeout``."""
        if not self.running_now:
            return self.process.returncode if self.process else 0
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerFailed(f"the server ignored SIGINT for {timeout:.0f} s\n{self.stderr()}") from None
        finally:
            self._kill_group()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a power cut or the OOM killer would, and reap it."""
        if self.process is None:
            return
        self._kill_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def restart(self) -> None:
        """Start again on the same config, database and port (after :meth:`stop` or :meth:`kill`)."""
        self.start()

    def _kill_group(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    @property
    def running_now(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr(self, limit: int = 8000) -> str:
        """The current (or last) run's standard error, its tail if long."""
        if self._stderr_path is None or not self._stderr_path.exists():
            return "(no stderr)"
        text = self._stderr_path.read_text(encoding="utf-8", errors="replace")
        return text[-limit:] or "(stderr empty)"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CALLWISE_CONFIG", None)  # --config decides, never the caller's environment
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # --- accounts, with the real CLI ---------------------------------------------------------------

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run ``python -m server ARGS --config CONFIG``; return stdout, fail with stderr on an error."""
        done = subprocess.run(
            [sys.executable, "-m", "server", *args, "--config", str(self.config_path)],
            cwd=self.directory,
            env=self._environment(),
            input=stdin.encode() if stdin is not None else None,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=self.cli_timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"`python -m server {' '.join(args)}` exited with {done.returncode}\n"
                                 f"{done.stdout.decode()}{done.stderr.decode()}")
        return done.stdout.decode()

    def add_staff(self, username: str, role: str = "teller", password: str = PASSWORD) -> None:
        self.cli("staff", "add", username, "--role", role, "--password-stdin", stdin=password + "\n")

    def add_device(self, name: str, kind: str) -> str:
        """Register a device and remember its token (the last line the CLI prints)."""
        token = self.cli("device", "add", name, "--kind", kind).strip().splitlines()[-1].strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", token), f"not a device token: {token!r}"
        self.tokens[name] = token
        return token

    def create_accounts(self, staff: dict[str, str], devices: dict[str, str]) -> None:
        """Staff (username → role) and devices (name → kind). The first command creates the schema
        alone; the rest run side by side, since each is mostly Python start-up."""
        jobs: list[Callable[[], Any]] = [lambda u=u, r=r: self.add_staff(u, r) for u, r in staff.items()]
        jobs += [lambda n=n, k=k: self.add_device(n, k) for n, k in devices.items()]
        if not jobs:
            return
        jobs[0]()
        errors: list[BaseException] = []

        def run(job: Callable[[], Any]) -> None:
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(job,)) for job in jobs[1:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

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


@functools.cache
def _prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not Linux: teardown's killpg still applies
        return None


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL if the test process dies first, so no
    server outlives an interrupted run. Looked up in the parent: the forked child only calls it.
    The kernel ties this to the thread that started the child, so start servers from the test's thread."""
    prctl = _prctl()
    if prctl is None:
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


class Listener:
    """A page's Socket.IO connection (``socketio.Client``) that records every event it receives.

    Events reach one connection in the order the server sent them, so :meth:`sync` — ask for a
    ``state_snapshot`` (with the server's ``request_snapshot`` event) and wait for it — proves that
    anything sent before has arrived. That is how a test shows an event did *not* come, without
    sleeping.
    """

    def __init__(self, base_url: str, auth: Any, *, transport: str = "websocket", reconnection: bool = False) -> None:
        self.base_url = base_url
        self.auth = auth
        self.transport = transport
        self.reconnection = reconnection
        self.events: list[tuple[str, Any]] = []
        self._taken: set[int] = set()
        self._changed = threading.Condition()
        self._left: socketio.Client | None = None
        self.client = self._new_client()

    def _new_client(self) -> socketio.Client:
        client = socketio.Client(
            reconnection=self.reconnection, reconnection_delay=0.1, reconnection_delay_max=0.5,
            randomization_factor=0, request_timeout=5,
        )

        def record(event: str, data: Any = None) -> None:
            if client is not self._left:  # what reaches a page after it left is not heard by anyone
                self._record(event, data)

        client.on("*", record)
        client.on("connect", lambda *_: self._record(CONNECTED, None))
        client.on("disconnect", lambda *_: self._record(DISCONNECTED, None))
        return client

    def _record(self, event: str, data: Any = None) -> None:
        with self._changed:
            self.events.append((event, data))
            self._changed.notify_all()

    def connect(self) -> Listener:
        """Connect (raises ``socketio.exceptions.ConnectionError`` when the server refuses)."""
        if self.client is self._left:  # a page that left comes back on a new connection (see disconnect)
            self.client = self._new_client()
        self.client.connect(self.base_url, auth=self.auth, transports=[self.transport], wait_timeout=EVENT_TIMEOUT_S)
        return self

    def disconnect(self) -> None:
        """Leave as a closed page does: the server hears the Socket.IO goodbye at once.

        Why a side thread: ``socketio.Client.disconnect`` then waits for the transport's own close —
        a WebSocket close frame that the gevent server never answers (websocket-client gives up
        after 3 s), or a long-poll that only returns at the next ping (10 s). Nothing a test checks
        depends on that wait, so it runs in the background, and a later :meth:`connect` opens a new
        client, as a reloaded page would.
        """
        if not self.client.connected:
            return
        before = self.count(DISCONNECTED)
        self._left = self.client
        threading.Thread(target=self.client.disconnect, daemon=True).start()
        self._wait(lambda: self.count(DISCONNECTED) > before, EVENT_TIMEOUT_S, "the client did not disconnect")

    def close(self) -> None:
        """Disconnect, or stop trying to reconnect."""
        if self.client.connected:
            self.disconnect()
        else:
            self.client.shutdown()

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def count(self, event: str) -> int:
        with self._changed:
            return sum(1 for name, _ in self.events if name == event)

    def _wait(self, done: Callable[[], bool], timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{failure} within {timeout} s; received: {[n for n, _ in self.events]}")
                self._changed.wait(remaining)

    def wait_for(
        self, event: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = EVENT_TIMEOUT_S
    ) -> Any:
        """The first not yet returned ``event`` whose payload satisfies ``where``; fails after ``timeout``."""
        found: list[Any] = []

        def match() -> bool:
            for index, (name, data) in enumerate(self.events):
                if name == event and index not in self._taken and where(data):
                    self._taken.add(index)
                    found.append(data)
                    return True
            return False

        self._wait(match, timeout, f"no matching {event!r}")
        return found[0]

    def received(self, event: str) -> list[Any]:
        """Every payload of ``event`` received so far."""
        with self._changed:
            return [data for name, data in self.events if name == event]

    def sync(self, timeout: float = EVENT_TIMEOUT_S) -> dict[str, Any]:
        """Round-trip to the server; returns the fresh ``state_snapshot`` that proves it."""
        before = self.count("state_snapshot")
        self.client.emit("request_snapshot")
        self._wait(lambda: self.count("state_snapshot") > before, timeout, "no state_snapshot for request_snapshot")
        return dict(self.received("state_snapshot")[-1])


@contextlib.contextmanager
def listening(base_url: str, auth: dict[str, str] | None, **options: Any) -> Iterator[Listener]:
    """A connected :class:`Listener`, disconnected afterwards."""
    listener = Listener(base_url, auth, **options).connect()
    try:
        yield listener
    finally:
        listener.close()
