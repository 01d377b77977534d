"""Per-connection limits on Socket.IO, so that one client can slow only itself.

What python-socketio does with a client's packets, left alone: simple-websocket's reader reads the
socket as fast as it delivers into an unbounded list (on gevent without yielding while data is
there), and each Socket.IO event starts a task of its own. A client sending ``42["request_snapshot"]``
in a loop thus built an unbounded backlog of tasks and buffered frames; health took 17–25 s for every
branch and the process grew by hundreds of MB (issue 16, finding 1). What this module adds, each
per engine.io session (one browser tab, one screen):

- **Packet rate**: a token bucket (``socket_packets_per_second``, ``socket_packet_burst``) on every
  packet the client sends. A packet over the limit waits for its token: the connection's reader
  stops reading, so its excess stays in its own TCP buffers and costs the server nothing. A client
  over the limit for ``socket_flood_close_s`` is disconnected. One warning line each.
- **Backlog**: at most ``WS_BACKLOG`` frames read ahead of the handler; the reader yields to the
  other connections after each read, and its events are handled one at a time, in order (never more
  than one in flight per connection: ``async_handlers=False`` plus a per-connection mutex for the
  deferred snapshot and the long-polling POSTs).
- **Nothing before the connect**: until the Socket.IO connect is accepted, a packet other than the
  connect closes the transport; a refused connect closes it at once; a session that has not
  connected a namespace within ``socket_connect_timeout_s`` is closed, and so is one whose
  namespace has been disconnected (logged out, revoked).
- **request_snapshot**: answered at most once per ``snapshot_interval_s`` per connection; one asked
  for sooner is answered when the interval has passed (once, however often it was asked), so an
  honest page that asks twice still gets the state as it is then.
- **Per address**: at most ``sockets_per_address`` engine.io sessions open from one client address
  (behind ``proxy_count`` proxies, the address they forward). 100 by default: a branch LAN behind
  one NAT address holds a few dozen screens (30 counters' consoles, displays, kiosks), each may hold
  a second session for the 20 s a reconnect overlaps the old one, and customers' phones on the
  branch's Wi-Fi share it too; one attacker's 100 sessions, each under the limits above, are
  harmless. Loopback addresses are not capped: behind a local proxy not declared in
  ``proxy_count`` every client has the proxy's address. 0 turns the cap off.
- **Garbage**: a packet that does not decode is one warning line (no traceback) and closes its
  connection; events the server does not handle are dropped unread.

Nothing here runs per emit: bench/realtime.py's big rooms pay nothing for it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import simple_websocket  # type: ignore[import-untyped]

from server.config import LimitsConfig

log = logging.getLogger(__name__)

# Frames a WebSocket reader may hold ahead of the handler before it stops reading the socket.
WS_BACKLOG = 16
# The largest packet a client may send, in bytes (engine.io's default is 1 MB; ours are tiny: an
# auth payload with a token is ~100 bytes). The same as the HTTP API's MAX_CONTENT_LENGTH.
MAX_PACKET_BYTES = 64 * 1024
# Events answered at most once per ``snapshot_interval_s`` per connection, coalesced.
COALESCED_EVENTS = frozenset({"request_snapshot"})
SWEEP_EVERY_S = 1.0
# A warning about an address over its cap is repeated at most this often.
ADDRESS_WARNING_EVERY_S = 60.0

NEW, CONNECTED, ENDED = "new", "connected", "ended"


class _Connection:
    """What the limits keep about one engine.io session."""

    __slots__ = ("eio_sid", "address", "tokens", "refilled", "limited_since", "warned", "state",
                 "close_at", "mutex", "snapshot_at", "snapshot_waiting")

    def __init__(self, eio_sid: str, address: str, burst: float, now: float, close_at: float, mutex: Any) -> None:
        self.eio_sid, self.address = eio_sid, address
        self.tokens, self.refilled = float(burst), now
        self.limited_since: float | None = None
        self.warned = False
        self.state = NEW
        self.close_at = close_at
        self.mutex = mutex  # a queue of one: put() takes it, get() gives it back (any async mode)
        self.snapshot_at = float("-inf")
        self.snapshot_waiting = False


class SocketLimits:
    """Installs the limits on one ``socketio.Server`` (Flask-SocketIO's ``socketio.server``), which
    must have been made with ``async_handlers=False``."""

    def __init__(self, server: Any, limits: LimitsConfig, *, proxy_count: int = 0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.eio = server.eio
        self.rate = float(limits.socket_packets_per_second)
        self.burst = float(limits.socket_packet_burst)
        self.flood_close_s = float(limits.socket_flood_close_s)
        self.per_address = limits.sockets_per_address
        self.connect_timeout_s = float(limits.socket_connect_timeout_s)
        self.snapshot_interval_s = float(limits.snapshot_interval_s)
        self.proxy_count = proxy_count
        self.monotonic = monotonic
        self.connections: dict[str, _Connection] = {}
        self.unconnected: dict[str, _Connection] = {}  # NEW or ENDED: the sweeper closes them in time
        self.addresses: Counter[str] = Counter()
        self._address_warned: dict[str, float] = {}
        self._sweeping = False

    def install(self) -> SocketLimits:
        """Put the limits between engine.io and python-socketio."""
        if self.server.async_handlers:
            raise RuntimeError("SocketLimits needs socketio.Server(async_handlers=False): events run in order")
        server, eio = self.server, self.eio
        eio.max_http_buffer_size = MAX_PACKET_BYTES
        eio._async = dict(eio._async, websocket=_bounded_websocket_class(eio._async["websocket"], eio.sleep))
        eio.on("connect", self._on_eio_connect)
        eio.on("message", self._on_message)
        eio.on("disconnect", self._on_eio_disconnect)
        logging.getLogger("engineio.server").addFilter(_one_line_for_bad_payloads)
        server.callwise_limits = self
        return self

    # --- engine.io sessions ----------------------------------------------------------------------

    def _on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        address = self._address(environ)
        if self.per_address and self.addresses[address] >= self.per_address and not _loopback(address):
            now = self.monotonic()
            if now - self._address_warned.get(address, float("-inf")) >= ADDRESS_WARNING_EVERY_S:
                self._address_warned[address] = now
                log.warning("socket refused: %s already has %d open (sockets_per_address)", address,
                            self.addresses[address])
            return False
        now = self.monotonic()
        conn = _Connection(eio_sid, address, self.burst, now, now + self.connect_timeout_s, self.eio.create_queue(1))
        self.connections[eio_sid] = conn
        self.unconnected[eio_sid] = conn
        self.addresses[address] += 1
        session = self.eio.sockets.get(eio_sid)
        if session is not None:  # every engine.io packet, of either transport, is counted here first
            session.receive = _counted(self, conn, session.receive)
        self.server._handle_eio_connect(eio_sid, environ)
        if not self._sweeping:
            self._sweeping = True
            self.server.start_background_task(self._sweep)
        return True

    def _on_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        try:
            self.server._handle_eio_disconnect(eio_sid, reason)
        finally:
            conn = self.connections.pop(eio_sid, None)
            self.unconnected.pop(eio_sid, None)
            if conn is not None:
                self.addresses[conn.address] -= 1
                if self.addresses[conn.address] <= 0:
                    del self.addresses[conn.address]

    def _address(self, environ: dict[str, Any]) -> str:
        """The client's address: behind ``proxy_count`` proxies, the one they forward (as werkzeug's
        ProxyFix reads it for HTTP; Socket.IO requests do not pass through ProxyFix)."""
        if self.proxy_count:
            header = str(environ.get("HTTP_X_FORWARDED_FOR", ""))
            forwarded = [part.strip() for part in header.split(",") if part.strip()]
            if len(forwarded) >= self.proxy_count:
                return forwarded[-self.proxy_count]
        return str(environ.get("REMOTE_ADDR", "?"))

    def close(self, conn: _Connection, why: str | None = None) -> None:
        """Close a connection's engine.io session (its Socket.IO namespace goes with it); ``why``
        is logged as one warning line."""
        self.unconnected.pop(conn.eio_sid, None)
        session = self.eio.sockets.get(conn.eio_sid)
        if why is not None:
            log.warning("socket %s from %s closed: %s", conn.eio_sid, conn.address, why)
        if session is not None and not session.closed and not session.closing:
            # Not eio.disconnect(): that waits until the client has read everything queued, which a
            # long-polling client that stopped polling never does.
            session.close(wait=False, abort=False, reason=self.eio.reason.SERVER_DISCONNECT)

    def namespace_left(self, sid: str) -> None:
        """A connection's Socket.IO namespace was disconnected (by the client, or by the server:
        logged out, revoked): its transport is closed at the next sweep."""
        eio_sid = self.server.manager.eio_sid_from_sid(sid, "/")
        conn = self.connections.get(eio_sid) if eio_sid else None
        if conn is not None and conn.state != ENDED:
            conn.state, conn.close_at = ENDED, self.monotonic()
            self.unconnected[conn.eio_sid] = conn

    def _sweep(self) -> None:
        """Close the sessions that never connected a namespace in time, and those whose namespace ended."""
        while True:
            self.eio.sleep(SWEEP_EVERY_S)
            now = self.monotonic()
            for conn in list(self.unconnected.values()):
                if conn.close_at <= now:
                    self.close(conn, "no Socket.IO connect in time" if conn.state == NEW else None)
            self._address_warned = {address: at for address, at in self._address_warned.items()
                                    if now - at < ADDRESS_WARNING_EVERY_S}

    # --- packets ---------------------------------------------------------------------------------

    def admit(self, conn: _Connection) -> bool:
        """Take a token for one packet, waiting for it when the client is over its rate. False when
        the connection was closed instead (over the limit for too long)."""
        now = self.monotonic()
        conn.tokens = min(self.burst, conn.tokens + (now - conn.refilled) * self.rate)
        conn.refilled = now
        if conn.tokens >= self.burst:
            conn.limited_since = None
        if conn.tokens >= 1:
            conn.tokens -= 1
            return True
        if conn.limited_since is None:
            conn.limited_since = now
        elif now - conn.limited_since >= self.flood_close_s:
            self.close(conn, f"over {self.rate:g} packets/s for {self.flood_close_s:g} s")
            return False
        if not conn.warned:
            conn.warned = True
            log.warning("socket %s from %s sends over %g packets/s: slowed down", conn.eio_sid, conn.address,
                        self.rate)
        # This connection's reader waits; what the client sends meanwhile stays in its own buffers.
        self.eio.sleep((1 - conn.tokens) / self.rate)
        conn.tokens = 0.0
        conn.refilled = self.monotonic()
        return conn.eio_sid in self.connections

    def _on_message(self, eio_sid: str, data: Any) -> None:
        """A Socket.IO packet (an engine.io MESSAGE) from the client; already counted by admit()."""
        conn = self.connections.get(eio_sid)
        if conn is None:
            return
        kind = data[:1] if isinstance(data, str) else None
        if conn.state != CONNECTED:
            if conn.state == NEW and kind == "0":
                self._dispatch(conn, data)
                self._after_connect(conn)
            else:
                self.close(conn, "sent a packet before connecting" if conn.state == NEW else None)
            return
        if kind == "1":  # the client's goodbye
            self._dispatch(conn, data)
            return
        if kind != "2":  # a second connect, acknowledgements we never asked for, binary packets
            if kind not in ("0", "3"):
                self.close(conn, f"unexpected packet {_preview(data)}")
            return
        try:
            packet = self.server.packet_class(encoded_packet=data)
            event = packet.data[0] if isinstance(packet.data, list) and packet.data else None
        except Exception as exc:  # noqa: BLE001 - whatever a client sends must not reach a traceback
            self.close(conn, f"undecodable packet {_preview(data)} ({type(exc).__name__})")
            return
        namespace = packet.namespace or "/"
        if not isinstance(event, str) or event in ("connect", "disconnect") \
                or event not in self.server.handlers.get(namespace, ()):
            return  # nobody listens: dropped unread
        if event in COALESCED_EVENTS and not self._snapshot_due(conn, data):
            return
        self._dispatch(conn, data)

    def _after_connect(self, conn: _Connection) -> None:
        sid = self.server.manager.sid_from_eio_sid(conn.eio_sid, "/")
        if sid is not None and self.server.manager.is_connected(sid, "/"):
            conn.state = CONNECTED
            self.unconnected.pop(conn.eio_sid, None)
        else:  # refused: the CONNECT_ERROR is queued before the close, so the client still reads why
            conn.state = ENDED
            self.close(conn)

    def _snapshot_due(self, conn: _Connection, data: str) -> bool:
        now = self.monotonic()
        due = conn.snapshot_at + self.snapshot_interval_s
        if now >= due:
            conn.snapshot_at = now
            return True
        if not conn.snapshot_waiting:
            conn.snapshot_waiting = True
            self.server.start_background_task(self._answer_later, conn, data, due - now)
        return False

    def _answer_later(self, conn: _Connection, data: str, delay: float) -> None:
        self.eio.sleep(delay)
        conn.snapshot_waiting = False
        if self.connections.get(conn.eio_sid) is conn and conn.state == CONNECTED:
            conn.snapshot_at = self.monotonic()
            self._dispatch(conn, data)

    def _dispatch(self, conn: _Connection, data: Any) -> None:
        """Hand one packet to python-socketio, one at a time per connection."""
        conn.mutex.put(None)
        try:
            self.server._handle_eio_message(conn.eio_sid, data)
        except Exception:  # noqa: BLE001 - a handler's bug: logged in full, the connection goes on
            log.exception("socket %s: handling %s failed", conn.eio_sid, _preview(data))
        finally:
            conn.mutex.get()
        self.eio.sleep(0)  # the other connections' turn


def _counted(limits: SocketLimits, conn: _Connection, receive: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """engine.io's ``Socket.receive`` for one session, behind the packet rate."""

    def receive_counted(packet: Any) -> Any:
        if limits.connections.get(conn.eio_sid) is not conn or not limits.admit(conn):
            return None
        return receive(packet)

    return receive_counted


def _loopback(address: str) -> bool:
    """This machine: a local proxy that ``proxy_count`` does not declare (every client would then
    share its address, and a cap would refuse the branch's screens), a local screen, the benchmarks."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _preview(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."


def _valid_engineio_frame(data: Any) -> bool:
    """Whether engine.io's Packet.decode takes this frame without raising (it is called outside any
    error handling in engine.io's WebSocket loop, so a bad frame ended in a traceback)."""
    if isinstance(data, bytes | bytearray):
        return True
    if not isinstance(data, str) or not data:
        return False
    if data[0] == "b":
        try:
            base64.b64decode(data[1:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return data[0] in "0123456789"


def _bounded_websocket_class(base: Any, sleep: Callable[[float], Any]) -> Any:
    """engine.io's WebSocket driver class for this async mode, with a bounded read-ahead, a yield
    after each read, a size limit per message and bad frames refused in one line."""

    class BoundedServer(simple_websocket.Server):
        def _handle_events(self) -> bool:
            keep_going: bool = super()._handle_events()
            # Backpressure: while the handler has WS_BACKLOG frames to go, stop reading the socket.
            while keep_going and self.connected and len(self.input_buffer) >= WS_BACKLOG:
                sleep(0.01)
            sleep(0)  # on gevent, a socket with data waiting never yields by itself
            return keep_going

    class BoundedWebSocket(base):
        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            self.ws = BoundedServer(environ, max_message_size=MAX_PACKET_BYTES, **self.server_args)
            ret = self.app(self)
            if self.ws.mode == "gevent":
                _end_gevent_connection(environ)
            if self.ws.mode == "gunicorn":
                raise StopIteration()
            if self.ws.mode == "werkzeug":
                raise ConnectionError()
            return ret

        def wait(self) -> Any:
            data = super().wait()
            if data is not None and not _valid_engineio_frame(data):
                log.warning("socket from %s closed: undecodable frame %s",
                            self.ws.environ.get("REMOTE_ADDR", "?"), _preview(data))
                return None  # as if the client had closed: engine.io closes the session cleanly
            return data

    return BoundedWebSocket


def _end_gevent_connection(environ: dict[str, Any]) -> None:
    """After a WebSocket ends, gevent's pywsgi reads on from the same connection as if for the next
    HTTP request: what a flooding client sent after the close was logged whole as one invalid
    request line. The WebSocket was the connection's last request: end it."""
    wsgi_input: Any = environ.get("wsgi.input")
    if not hasattr(wsgi_input, "raw") and hasattr(wsgi_input, "rfile"):
        wsgi_input = wsgi_input.rfile
    connection = getattr(getattr(wsgi_input, "raw", None), "_sock", None)
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


def _one_line_for_bad_payloads(record: logging.LogRecord) -> bool:
    """engine.io logs a long-polling POST it cannot decode with a full traceback ('post request
    handler error'): one warning line is what a client's garbage deserves."""
    if record.exc_info and record.getMessage() == "post request handler error":
        error = record.exc_info[1]
        record.msg, record.args = "socket: undecodable long-polling payload (%s)", (type(error).__name__,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
    return True
