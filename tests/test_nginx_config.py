"""deploy/nginx/callwise.conf as shipped: TLS, plain HTTP redirected, and an access log without secrets.

Issue 16, finding 10: the nginx config had no TLS, and its access log kept every pairing token
(``/kiosk?device=...``) and ticket token (``/t/<token>``). nginx runs here with the shipped file (its
ports, certificate and log paths swapped: tests/integration/harness.py), a self-signed certificate,
in front of one real Callwise server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.integration.harness import Nginx
from tests.support.callwise import CallwiseServer

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CallwiseServer, Nginx]]:
    with CallwiseServer.running(tmp_path_factory.mktemp("nginx"), staff={"mia": "manager"},
                                devices={"lobby": "display", "door": "kiosk"}) as server:
        try:
            nginx = Nginx([server.port, server.port], tls=True)
        except FileNotFoundError as exc:
            pytest.skip(str(exc))
        try:
            nginx.start()
            yield server, nginx
        finally:
            nginx.close()


def test_plain_http_is_redirected_to_https_with_the_same_address(proxied):
    _, nginx = proxied
    answer = requests.get(f"http://127.0.0.1:{nginx.http_port}/kiosk?device=abc", allow_redirects=False, timeout=5)
    assert answer.status_code == 301
    assert answer.headers["Location"] == "https://127.0.0.1/kiosk?device=abc"


def test_https_serves_callwise_with_hsts(proxied):
    _, nginx = proxied
    answer = requests.get(f"{nginx.base_url}/api/v1/health", verify=str(nginx.certificate), timeout=5)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_access_log_keeps_no_pairing_ticket_or_log_in_secret(proxied):
    """Issue 16, finding 10."""
    server, nginx = proxied
    verify = str(nginx.certificate)
    base = nginx.base_url
    device = server.tokens["lobby"]
    kiosk = server.tokens["door"]
    ticket = requests.post(f"{base}/api/v1/tickets", json={"service": "A"}, verify=verify, timeout=5,
                           headers={"Authorization": f"Bearer {kiosk}"}).json()
    secrets = [device, kiosk, ticket["token"], server.tokens["mia"]]
    requests.get(f"{base}/display?device={device}", verify=verify, timeout=5)
    requests.get(f"{base}/kiosk?device={kiosk}", verify=verify, timeout=5)
    requests.get(f"{base}/t/{ticket['token']}", verify=verify, timeout=5,
                 headers={"Referer": f"{base}/t/{ticket['token']}"})
    assert requests.get(f"{base}/api/v1/tickets/{ticket['token']}", verify=verify, timeout=5).status_code == 200
    requests.get(f"{base}/api/v1/tickets/{ticket['token']}/qr.svg", verify=verify, timeout=5)
    requests.get(f"{base}/socket.io/?EIO=4&transport=polling&token={device}", verify=verify, timeout=5)
    requests.get(f"{base}/api/v1/tickets/{ticket['id']}/context", verify=verify, timeout=5,
                 headers={"Authorization": f"Bearer {server.tokens['mia']}"})
    # nginx writes a request's log line after sending its answer: wait for the last one.
    last = f'"GET /api/v1/tickets/{ticket["id"]}/context HTTP/1.1"'
    deadline = time.monotonic() + 5
    log = nginx.access_log.read_text()
    while last not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = nginx.access_log.read_text()
    for secret in secrets:
        assert secret not in log
    assert '"GET /display HTTP/1.1" 200' in log
    assert '"GET /t/- HTTP/1.1"' in log
    assert '"GET /api/v1/tickets/- HTTP/1.1" 200' in log
    assert '"GET /api/v1/tickets/-/qr.svg HTTP/1.1"' in log
    assert f'"GET /api/v1/tickets/{ticket["id"]}/context HTTP/1.1"' in log  # a ticket id is no secret
    assert "?" not in log
