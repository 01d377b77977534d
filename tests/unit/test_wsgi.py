"""The server's connection handler turns Nagle's algorithm off on every connection it serves."""

from __future__ import annotations

import socket
from typing import Any

from gevent import pywsgi

from server.wsgi import NoDelayHandler


def test_every_accepted_connection_gets_tcp_nodelay(monkeypatch: Any) -> None:
    seen: list[int] = []
    monkeypatch.setattr(pywsgi.WSGIHandler, "handle", lambda self: seen.append(
        self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, address = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # the kernel's default
            NoDelayHandler(accepted, address, server=pywsgi.WSGIServer(listener, lambda *a: [])).handle()
    assert seen == [1]  # set before the request is read, and still set while it is served
