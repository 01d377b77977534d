"""The gevent WSGI server: its connection handler, with Nagle's algorithm off, and a clean stop.

gevent's pywsgi writes a response's headers and its body in separate sends. On a kept-alive
connection, Nagle's algorithm then holds the body back until the client acknowledges the headers,
and the client delays that acknowledgement (up to 40 ms on Linux): every request after the first on
a connection took about 44 ms, however little the server did (bench/http_load.py). TCP_NODELAY on
each accepted socket sends the body at once.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
from typing import Any

import gevent
from gevent import pywsgi

STOP_GRACE_S = 2.0


class NoDelayHandler(pywsgi.WSGIHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):  # not TCP (a Unix socket behind a proxy): nothing to do
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


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

