"""The gevent WSGI server's connection handler, with Nagle's algorithm off.

gevent's pywsgi writes a response's headers and its body in separate sends. On a kept-alive
connection, Nagle's algorithm then holds the body back until the client acknowledges the headers,
and the client delays that acknowledgement (up to 40 ms on Linux): every request after the first on
a connection took about 44 ms, however little the server did (bench/http_load.py). TCP_NODELAY on
each accepted socket sends the body at once.
"""

from __future__ import annotations

import socket

from gevent import pywsgi


class NoDelayHandler(pywsgi.WSGIHandler):
    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a Unix socket behind a proxy): nothing to do
            pass
        super().handle()
