"""``python -m server ARGS`` run inside this process: the same click command, without a new Python.

Starting a Python and importing the server costs a second or more of CPU per command, which is most
of what a command like ``staff add`` does. The commands that serve (``serve``, ``demo``) stay in a
child process (:class:`tests.support.process.ServerProcess`): they patch the standard library with
gevent and run until a signal.

click's test runner swaps ``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` for the duration of a
command, so commands run one at a time (a lock), never in two threads at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from click.testing import CliRunner

_ONE_AT_A_TIME = threading.Lock()


@dataclass
class CliResult:
    """What a command ended with: its exit code, and what it wrote to standard output and error."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:  # the name subprocess.CompletedProcess gives it
        return self.exit_code


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> CliResult:
    """``python -m server ARGS`` with ``stdin`` as standard input and ``env`` added to the environment
    (a value of None removes a variable) for the duration of the command."""
    from server.cli import main

    with _ONE_AT_A_TIME:
        result = CliRunner().invoke(main, list(args), input=stdin, env=env, prog_name="python -m server",
                                    catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is the test's failure, with its own traceback
    return CliResult(result.exit_code, result.stdout, result.stderr)
