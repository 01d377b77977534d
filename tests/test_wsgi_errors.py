"""The answers gevent's pywsgi gives by itself, before Flask sees a request, are JSON errors too.

Issue 16, finding 10: a request line over 8 KiB got an empty text/plain 414, an unparsable request an
empty 400. Every answer of the API is ``{"error": {"code", "message"}}``; so are these now
(server/wsgi.py). Raw sockets against a real ``serve`` process: no HTTP client sends such requests.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.callwise import CallwiseServer

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    with CallwiseServer.running(tmp_path_factory.mktemp("wsgi-errors")) as running:
        yield running


def exchange(server: CallwiseServer, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` and read the whole answer (the server closes the connection after these errors)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(headers: dict[str, str], body: bytes, code: str, message: str | None = None) -> None:
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
    if message is not None:
        assert error["message"] == message


def test_a_request_line_over_8_kib_is_a_json_414(server):
    status, headers, body = exchange(server, b"GET /api/v1/health?" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414
    assert_json_error(headers, body, "uri_too_long")


@pytest.mark.parametrize("raw", [
    b"HELLO\r\n\r\n",
    b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
])
def test_a_request_pywsgi_cannot_parse_is_a_json_400(server, raw):
    status, headers, body = exchange(server, raw)
    assert status == 400
    assert_json_error(headers, body, "bad_request", "the request is not valid HTTP")  # pywsgi's, not Flask's


def test_pywsgis_late_400_and_500_are_json_when_nothing_was_sent_yet():
    """A body found broken after the application ran, or an exception outside Flask (the Socket.IO
    middleware), before any byte of the answer: pywsgi answers by itself; as JSON."""
    from server.wsgi import NoDelayHandler

    for status, code in ((400, "bad_request"), (500, "internal_error")):
        handler = NoDelayHandler.__new__(NoDelayHandler)
        handler.response_length = 0
        sent: dict[str, object] = {}
        handler.start_response = lambda line, headers, sent=sent: sent.update(line=line, headers=dict(headers))
        handler.write = lambda body, sent=sent: sent.update(body=body)
        handler._send_error_response_if_possible(status)
        assert str(sent["line"]).startswith(str(status))
        headers = {name.lower(): value for name, value in sent["headers"].items()}  # type: ignore[attr-defined]
        assert_json_error(headers, sent["body"], code)  # type: ignore[arg-type]


def test_the_server_still_answers_normally_afterwards(server):
    status, headers, body = exchange(server, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["status"] == "ok"
