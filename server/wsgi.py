"""The gevent WSGI server: its connection handler, with Nagle's algorithm off, and a clean stop.

gevent's pywsgi writes a response's headers and its body in separate sends. On a kept-alive
connection, Nagle's algorithm then holds the body back until the client acknowledges the headers,
and the client delays that acknowledgement (up to 40 ms on Linux): every request after the first on
a connection took about 44 ms, however little the server did (bench/http_load.py). TCP_NODELAY on
each accepted socket sends the body at once.

pywsgi also answers some requests itself, before Flask sees them: a request line longer than 8 KiB
(414), a request it cannot parse (400), a body that breaks off mid-chunk (400), and an error after the
response began (500). Its answers were empty text/plain; every answer of the API is a JSON error
``{"error": {"code", "message"}}`` (issue 16, finding 10), so the handler sends those here too.
"""

from __future__ import annotations

import contextlib
import gc
import json
import signal
import socket
from typing import Any

import gevent
from gevent import pywsgi

STOP_GRACE_S = 2.0


# pywsgi's own answers, as JSON: (status line, code, message).
_JSON_ERRORS = {
    400: ("400 Bad Request", "bad_request", "the request is not valid HTTP"),
    414: ("414 URI Too Long", "uri_too_long", "the request line is too long (at most 8 KiB)"),
    500: ("500 Internal Server Error", "internal_error", "something went wrong on our side; it has been logged"),
}


def _json_error(status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    line, code, message = _JSON_ERRORS[status]
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [("Content-Type", "application/json"), ("Connection", "close"), ("Content-Length", str(len(body)))]
    return line, headers, body


def _raw_json_error(status: int) -> bytes:
    """A whole HTTP response, for the answers pywsgi writes to the socket before any WSGI response."""
    line, headers, body = _json_error(status)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {line}\r\n{head}\r\n".encode("latin-1") + body


class NoDelayHandler(pywsgi.WSGIHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):  # not TCP (a Unix socket behind a proxy): nothing to do
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def handle_one_request(self) -> Any:
        """pywsgi's request loop, with its own 400 and 414 answers (a finished response it returns as
        bytes, when the request line is too long or unparsable) sent as JSON."""
        result = super().handle_one_request()
        if isinstance(result, tuple) and result[0] in ("400", "414"):
            return result[0], _raw_json_error(int(result[0]))
        return result

    def _send_error_response_if_possible(self, error_code: int) -> None:
        """A 400 (a body cut off mid-chunk) or 500 before any byte of the response: as JSON."""
        if self.response_length or error_code not in _JSON_ERRORS:
            super()._send_error_response_if_possible(error_code)
            return
        status, headers, body = _json_error(error_code)
        try:
            self.start_response(status, headers)
            self.write(body)
        except OSError:
            self.close_connection = True


def stop_on_signals(socketio: Any) -> None:
    """SIGINT (Ctrl-C) and SIGTERM (systemd, docker) stop the server: it closes its socket, gives
    open connections ``STOP_GRACE_S`` to finish, and ``socketio.run`` returns.

    Left to Python's default handler, SIGINT raises KeyboardInterrupt in whichever greenlet runs at
    that moment; now and then that was a connection's greenlet and the exception never reached the
    main one, so the server went on serving (a test saw it ignore SIGINT for 10 s). gevent's own
    signal handler runs in the hub instead, every time.
    """

    def stop() -> None:
        server = getattr(socketio, "wsgi_server", None)
        if server is not None:
            gevent.spawn(server.stop, timeout=STOP_GRACE_S)

    gevent.signal_handler(signal.SIGINT, stop)
    gevent.signal_handler(signal.SIGTERM, stop)


def freeze_startup_heap() -> int:
    """Move everything start-up made (modules, mappers, compiled statements, config: about 150,000
    objects, alive as long as the process) out of the garbage collector's sight, after one last
    collection; returns how many were frozen. A full collection walks every tracked object and stops
    the event loop while it does: with 2,000 screens connected these pauses reached 270 ms, a
    handful of late calls on the lobby displays (bench/realtime.py); the start-up heap was a quarter
    of each of them, for nothing, as none of it ever becomes garbage."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

