"""The one way the tests and the benchmarks run a server in a child process.

:class:`ServerProcess` starts a command (``python -m server serve`` in :class:`~tests.support.callwise.
CallwiseServer`, a bare Flask-SocketIO server in bench/realtime.py) in a process group of its own,
tied to this process by ``PR_SET_PDEATHSIG`` so that no server outlives an interrupted run, with its
standard output and error in files; it returns once ``/api/v1/health`` answers 200, and stops it as an
operator would (a signal, then a wait) or kills the whole group as a power cut would.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def repo_env(**extra: str) -> dict[str, str]:
    """This environment, with the repository first on the import path, unbuffered output, no
    ``CALLWISE_CONFIG`` (``--config`` decides, never the caller's environment) and ``extra`` on top."""
    env = dict(os.environ)
    env.pop("CALLWISE_CONFIG", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ServerFailed(AssertionError):
    """The server process did not come up, or did not stop when asked (the message carries its stderr)."""


class ServerProcess:
    """A server in a child process of its own, on ``port`` of 127.0.0.1, its output under ``directory``.

    Each start writes ``<name>-<n>.out`` and ``<name>-<n>.err`` there (n counts the starts), so a
    restarted server's first run can still be read.
    """

    def __init__(self, directory: Path, port: int | None = None, *, name: str = "serve") -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None

    @property
    def url(self) -> str:
        return self.base_url

    def spawn(self, argv: list[str], env: dict[str, str] | None = None, *, timeout: float = START_TIMEOUT_S,
              what: str = "the server") -> None:
        """Start ``argv`` (in ``directory``, a new process group) and wait until it is healthy."""
        assert not self.running_now, f"{what} is already running"
        self.starts += 1
        self.stdout_path = self.directory / f"{self.name}-{self.starts}.out"
        self.stderr_path = self.directory / f"{self.name}-{self.starts}.err"
        with open(self.stdout_path, "wb") as stdout, open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                argv,
                cwd=self.directory,
                env=env if env is not None else repo_env(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: one killpg ends it and anything it starts
                preexec_fn=_die_with_parent_hook(),
            )
        self.wait_until_healthy(timeout, what)

    def wait_until_healthy(self, timeout: float = START_TIMEOUT_S, what: str = "the server") -> None:
        """Return once ``/api/v1/health`` answers 200; kill and fail if the process exits first or
        does not answer within ``timeout``."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last_error: object = None
        with requests.Session() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerFailed(f"{what} exited with {self.process.returncode} while starting\n{self.stderr()}")
                try:
                    response = http.get(f"{self.base_url}/api/v1/health", timeout=1)
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                except requests.RequestException as exc:
                    last_error = exc
                time.sleep(0.02)  # polling for readiness, not waiting for an outcome
        self.kill()
        raise ServerFailed(f"no 200 from {what}'s /api/v1/health within {timeout:.0f} s (last: {last_error})\n"
                           f"{self.stderr()}")

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGINT) -> int:
        """Stop as an operator would (``sig``: SIGINT is Ctrl-C, SIGTERM what systemd sends) and return
        the exit code; SIGKILL and fail if it has not exited within ``timeout``."""
        if not self.running_now:
            return self.process.returncode if self.process else 0
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerFailed(f"the server ignored signal {sig} for {timeout:.0f} s\n{self.stderr()}") from None
        finally:
            self._kill_group()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a power cut or the OOM killer would, and reap it."""
        if self.process is None:
            return
        self._kill_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def _kill_group(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    @property
    def running_now(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def alive(self) -> bool:
        return self.running_now

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stdout(self) -> str:
        """The current (or last) run's standard output."""
        if self.stdout_path is None or not self.stdout_path.exists():
            return ""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self, limit: int = 8000) -> str:
        """The current (or last) run's standard error, its tail if long."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return "(no stderr)"
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return text[-limit:] or "(stderr empty)"


@functools.cache
def _prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not Linux: teardown's killpg still applies
        return None


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL if this process dies first, so no server
    outlives an interrupted run. Looked up in the parent: the forked child only calls it. The kernel
    ties this to the thread that started the child, so start servers from the test's own thread."""
    prctl = _prctl()
    if prctl is None:
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook
