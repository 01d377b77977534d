"""A throw-away PostgreSQL cluster for the test session.

``CALLWISE_TEST_PG_URL`` points the tests at an existing server instead. Otherwise, if Debian's
PostgreSQL is installed, ``initdb`` creates a cluster in a temporary folder (as the ``postgres``
user when the tests run as root, since PostgreSQL refuses root) and ``pg_ctl`` starts it on a free
port of 127.0.0.1. With ``CALLWISE_REQUIRE_PG=1`` (CI) a missing PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.process import free_port


def find_pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class PgCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    as_user: str | None
    durable: bool = False  # fsync and synchronous commits on: a crash loses nothing committed

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        return ["runuser", "-u", self.as_user, "--", *command] if self.as_user else command

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c max_connections=300"
        if not self.durable:  # the API suite's databases are throw-away: speed over crash safety
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.data_dir / "log"),
                      "-w", "-t", "60", "start"),
            check=True, capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop"),
                       check=False, capture_output=True)


def start_cluster(durable: bool = False) -> PgCluster:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    as_user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="callwise-pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if as_user:
        shutil.chown(root, user=as_user)
        shutil.chown(data_dir, user=as_user)
    cluster = PgCluster(bin_dir=bin_dir, data_dir=data_dir, port=free_port(), as_user=as_user, durable=durable)
    subprocess.run(
        cluster._cmd("initdb", "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--locale=C.UTF-8", "--no-sync"),
        check=True, capture_output=True,
    )
    cluster.start()
    return cluster
