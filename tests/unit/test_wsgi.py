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


def test_the_start_up_heap_is_frozen_out_of_the_collectors_walks() -> None:
    import gc

    from server.wsgi import freeze_startup_heap

    kept = [[n] for n in range(1000)]  # start-up state, alive for good
    try:
        assert freeze_startup_heap() >= len(kept)
        walked = {id(o) for o in gc.get_objects(generation=2)}  # what a full collection looks at
        assert not any(id(x) in walked for x in kept)
    finally:
        gc.unfreeze()
