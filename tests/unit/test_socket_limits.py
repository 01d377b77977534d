"""The per-connection Socket.IO limits' arithmetic (server/socket_limits.py), on a fake clock:
the packet-rate bucket, the client address behind proxies, frame validation, the config's bounds.
The real server's behaviour under a flood is tests/test_socket_limits.py (issue 16, finding 1)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from server.config import ConfigError, LimitsConfig, config_from_dict
from server.socket_limits import NEW, SocketLimits, _Connection, _valid_engineio_frame

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float = 0) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeSession:
    closed = closing = False

    def __init__(self) -> None:
        self.closes = 0

    def close(self, **_: Any) -> None:
        self.closes += 1
        self.closed = True


def limits_on_fake(clock: FakeClock, **config: Any) -> tuple[SocketLimits, _Connection, FakeSession]:
    session = FakeSession()
    eio = SimpleNamespace(sleep=clock.sleep, sockets={"e1": session}, reason=SimpleNamespace(SERVER_DISCONNECT="s"))
    limits = SocketLimits(SimpleNamespace(eio=eio), LimitsConfig(**config), monotonic=clock)
    conn = _Connection("e1", "192.0.2.1", limits.burst, clock(), clock() + 10, mutex=None)
    limits.connections["e1"] = conn
    return limits, conn, session


def test_a_burst_passes_then_packets_wait_for_their_token_and_a_pause_refills_the_bucket() -> None:
    clock = FakeClock()
    limits, conn, _ = limits_on_fake(clock, socket_packets_per_second=10, socket_packet_burst=3)
    assert all(limits.admit(conn) for _ in range(3))
    assert clock.slept == []
    assert limits.admit(conn)  # the fourth waits a tenth of a second for its token
    assert clock.slept == [pytest.approx(0.1)]
    clock.now += 1.0  # a second's pause: the bucket is full again, the episode over
    assert all(limits.admit(conn) for _ in range(3))
    assert conn.limited_since is None and len(clock.slept) == 1


def test_a_client_over_the_rate_for_flood_close_s_is_closed_once() -> None:
    clock = FakeClock()
    limits, conn, session = limits_on_fake(clock, socket_packets_per_second=10, socket_packet_burst=1,
                                           socket_flood_close_s=2)
    admitted = 0
    while limits.admit(conn):
        admitted += 1
        assert admitted < 100, "never closed"
    assert session.closes == 1
    # One token at once, then one every 0.1 s for the 2 s over the limit.
    assert 19 <= admitted <= 22
    assert "e1" not in limits.unconnected


def test_an_honest_rate_is_never_slowed() -> None:
    clock = FakeClock()
    limits, conn, _ = limits_on_fake(clock)
    for _ in range(1000):  # a packet every 0.2 s: 5 a second against a limit of 10
        clock.now += 0.2
        assert limits.admit(conn)
    assert clock.slept == []


@pytest.mark.parametrize(("proxies", "forwarded", "remote", "expected"), [
    (0, "203.0.113.9", "192.0.2.1", "192.0.2.1"),  # no proxy declared: the header is anyone's to forge
    (1, "203.0.113.9", "127.0.0.1", "203.0.113.9"),
    (1, "198.51.100.1, 203.0.113.9", "127.0.0.1", "203.0.113.9"),  # the client's own claim is not trusted
    (2, "198.51.100.1, 203.0.113.9", "127.0.0.1", "198.51.100.1"),
    (2, "203.0.113.9", "127.0.0.1", "127.0.0.1"),  # fewer hops than proxies: the connection's address
])
def test_the_client_address_is_the_one_the_declared_proxies_forward(proxies, forwarded, remote, expected) -> None:
    limits = SocketLimits(SimpleNamespace(eio=None), LimitsConfig(), proxy_count=proxies)
    assert limits._address({"HTTP_X_FORWARDED_FOR": forwarded, "REMOTE_ADDR": remote}) == expected


@pytest.mark.parametrize(("frame", "valid"), [
    ("2", True), ('42["request_snapshot"]', True), (b"\x01\x02", True), ("bAAEC", True),
    ("", False), ("x", False), ("b!!", False), (None, False),
])
def test_engineio_frames_that_would_not_decode_are_told_apart(frame, valid) -> None:
    assert _valid_engineio_frame(frame) is valid


def test_a_new_connection_waits_for_its_connect() -> None:
    clock = FakeClock()
    _, conn, _ = limits_on_fake(clock)
    assert conn.state == NEW


def test_the_socket_limit_keys_are_bounded_and_the_demo_config_keeps_the_defaults() -> None:
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    assert config_from_dict(data).limits.sockets_per_address == 100
    for key, bad in (("socket_packets_per_second", 0), ("socket_packet_burst", 0), ("sockets_per_address", -1),
                     ("socket_connect_timeout_s", 0), ("snapshot_interval_s", -1), ("socket_flood_close_s", 0)):
        broken = {**data, "limits": {**data["limits"], key: bad}}
        with pytest.raises(ConfigError, match=rf"limits\.{key}"):
            config_from_dict(broken, source="x.toml")
