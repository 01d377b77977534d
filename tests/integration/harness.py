"""The pieces of a multi-process deployment, started for real on 127.0.0.1: PostgreSQL, Redis,
several Callwise processes and nginx with the shipped configuration (deploy/nginx/callwise.conf).

Every server here can be stopped and started again mid-test, which is what the fault tests do.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from tests.support.callwise import CallwiseServer
from tests.support.pg import PgCluster, start_cluster
from tests.support.process import free_port

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "deploy" / "nginx" / "callwise.conf"
SYSTEMD_UNIT = REPO / "deploy" / "systemd" / "callwise@.service"
SECRET = "integration-tests-secret-key-0123456789"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last failure
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


class RedisServer:
    """redis-server on a free port with no persistence, in a folder of its own."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="callwise-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_until(self._answers, 10, "redis to answer")

    def _answers(self) -> bool:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5).ping())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Postgres:
    """A throw-away cluster of our own, as durable as a production one (the fault tests crash it)."""

    def __init__(self) -> None:
        self.cluster: PgCluster = start_cluster(durable=True)
        name = "callwise_it"
        admin = create_engine(self.cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        self.url = self.cluster.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        self.cluster.stop("immediate")  # as a crash: no goodbye to the clients

    def start(self) -> None:
        self.cluster.start()

    def close(self) -> None:
        self.cluster.stop("immediate")
        shutil.rmtree(self.cluster.data_dir.parent, ignore_errors=True)


def deployment_config(database_url: str, redis_url: str, port: int, public_url: str) -> str:
    """tests/branch.toml turned into a production-style config: PostgreSQL, Redis for Socket.IO and
    rate limits, behind one proxy, the system clock, and short alert thresholds so time-driven
    alerts appear within seconds."""
    text_ = (REPO / "tests" / "branch.toml").read_text(encoding="utf-8")
    server = (
        "[server]\n"
        'mode = "production"\n'
        f'database_url = "{database_url}"\n'
        f'message_queue = "{redis_url}"\n'
        f'rate_limit_storage = "{redis_url}"\n'
        f'public_url = "{public_url}"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        "proxy_count = 1\n\n"
    )
    text_, replaced = re.subn(r"(?ms)^\[server\]\n.*?(?=^\[)", server, text_, count=1)
    assert replaced == 1
    text_ = re.sub(r"(?ms)^\[clock\]\n.*?(?=^\[)", '[clock]\nmode = "system"\n\n', text_, count=1)
    # On the system clock the tests run at whatever hour CI does: the branch opens around the clock.
    text_ = text_.replace("[branch]\n", '[branch]\nopening_time = "00:00"\nclosing_time = "23:59:59"\n'
                                        'last_ticket_time = "23:59:59"\n', 1)
    # (No hold-off: the tests raise the same alert again within minutes, on purpose. No no-show grace:
    # on the system clock a test cannot wait a minute after each call; the API suite tests the grace.)
    text_ = text_.replace("[limits]\n", "[alerts]\nidle_counter_warning_s = 1\nidle_counter_critical_s = 30\n"
                                        "tick_s = 0.5\nreopen_holdoff_s = 0\n\n[queue]\nno_show_grace_s = 0\n\n"
                                        "[limits]\n", 1)
    # Counters 5-9 serve A and B too: with 1, 2 and 3 that makes eight for four tellers on each process.
    counters = "".join(f"\n[[counters]]\nnumber = {n}\nservices = [\"A\", \"B\"]\n" for n in range(5, 10))
    return text_ + counters


class DeployedProcess(CallwiseServer):
    """A Callwise process started as the systemd unit starts it, on a production-style config."""

    extra_env = {"CALLWISE_SECRET_KEY": SECRET}  # what EnvironmentFile= gives the unit

    def __init__(self, directory: Path, config_text: str, port: int) -> None:
        self.config_text = config_text
        super().__init__(directory, port)

    def write_config(self) -> Path:
        path = self.directory / "config.toml"
        path.write_text(self.config_text, encoding="utf-8")
        return path

    def health(self) -> dict:  # type: ignore[type-arg]
        """Health as an admin sees it (with the process id and the sweeper's state): log in an admin
        named ``ops`` first."""
        return requests.get(f"{self.base_url}/api/v1/health", timeout=2,
                            headers={"Authorization": f"Bearer {self.tokens['ops']}"}).json()


def systemd_exec_start() -> list[str]:
    """The unit's ExecStart as argv, for the test that checks our processes start the same way."""
    line = next(line for line in SYSTEMD_UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    return line.removeprefix("ExecStart=").split()


class Nginx:
    """nginx running deploy/nginx/callwise.conf, with its listen ports, upstream ports, certificate and
    log paths swapped for the test's (nothing else of the shipped file is changed).

    With ``tls`` (tests/test_nginx_config.py) it serves HTTPS on :attr:`port` with a self-signed
    certificate made here and redirects plain HTTP from :attr:`http_port`. Without (the deployment
    tests, whose clients speak plain HTTP), the HTTPS server listens on :attr:`port` without TLS: the
    ``ssl_*`` lines and the HSTS header are left out, every ``location`` stays as shipped.
    """

    def __init__(self, backend_ports: list[int], *, tls: bool = False) -> None:
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(self.binary).exists():
            raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
        self.tls = tls
        self.port = free_port()
        self.http_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="callwise-nginx-"))
        for name in ("logs", "temp"):
            (self.folder / name).mkdir()
        self.access_log = self.folder / "logs" / "access.log"
        shipped = NGINX_CONF.read_text()
        for listen in ("listen 80;", "listen [::]:80;", "listen 443 ssl;", "listen [::]:443 ssl;",
                       "/etc/ssl/callwise/fullchain.pem", "/etc/ssl/callwise/privkey.pem",
                       "/var/log/nginx/callwise.access.log"):
            assert listen in shipped, f"{NGINX_CONF} no longer has {listen!r}: update the test harness"
        shipped = shipped.replace("listen 80;", f"listen 127.0.0.1:{self.http_port};").replace("listen [::]:80;", "")
        shipped = shipped.replace("listen [::]:443 ssl;", "")
        shipped = shipped.replace("/var/log/nginx/callwise.access.log", str(self.access_log))
        if tls:
            self.certificate = self.folder / "cert.pem"
            key = self.folder / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(key), "-out", str(self.certificate)], check=True, capture_output=True)
            shipped = shipped.replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
            shipped = shipped.replace("/etc/ssl/callwise/fullchain.pem", str(self.certificate))
            shipped = shipped.replace("/etc/ssl/callwise/privkey.pem", str(key))
        else:
            shipped = shipped.replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port};")
            shipped = "\n".join(line for line in shipped.splitlines()
                                if not line.strip().startswith(("ssl_", "add_header Strict-Transport-Security")))
        for old, new in zip(("127.0.0.1:5001", "127.0.0.1:5002"), backend_ports, strict=True):
            shipped = shipped.replace(old, f"127.0.0.1:{new}")
        (self.folder / "callwise.conf").write_text(shipped)
        (self.folder / "nginx.conf").write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.folder}/nginx.pid;\n"
            f"error_log {self.folder}/logs/error.log warn;\n"
            + ("user root;\n" if os.geteuid() == 0 else "")
            + "events { worker_connections 4096; }\n"
            "http {\n"
            f"  access_log off;\n"
            f"  client_body_temp_path {self.folder}/temp/body;\n"
            f"  proxy_temp_path {self.folder}/temp/proxy;\n"
            f"  fastcgi_temp_path {self.folder}/temp/fastcgi;\n"
            f"  uwsgi_temp_path {self.folder}/temp/uwsgi;\n"
            f"  scgi_temp_path {self.folder}/temp/scgi;\n"
            f"  include {self.folder}/callwise.conf;\n"
            "}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        check = subprocess.run([self.binary, "-t", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen([self.binary, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        verify = str(self.certificate) if self.tls else True
        wait_until(lambda: requests.get(self.base_url + "/api/v1/health", timeout=2, verify=verify).status_code == 200,
                   20, "nginx to answer")

    def close(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
