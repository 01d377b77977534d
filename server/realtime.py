"""Socket.IO: who may connect, which rooms they join, and how events go out.

Clients authenticate in the connect ``auth`` payload — ``{"token": ...}`` for staff and devices,
``{"ticket": ...}`` for a customer's phone page — or, for staff pages, with their session cookie.
Each connection joins only the rooms its role may hear (server/rooms.py) and immediately receives a
``state_snapshot``, so a client that reconnects catches up without reloading.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, disconnect, emit, join_room
from socketio import PubSubManager
from sqlalchemy.exc import OperationalError

from server import accounts, rooms
from server.actors import Actor
from server.alerts.engine import open_alerts_for
from server.branches import branch_for
from server.clock import wall_now
from server.errors import CallwiseError, NotFound
from server.lobby.instructions import current_instructions
from server.models import Branch, Ticket
from server.queueing import reads
from server.queueing.hours import hours_now
from server.queueing.numbering import day_start_utc
from server.queueing.tickets import ticket_row_by_token
from server.rooms import HEARTBEAT_FAMILIES, Audience
from server.runtime import Runtime

log = logging.getLogger(__name__)

socketio = SocketIO()


class SocketIOPublisher:
    """Publishes through Flask-SocketIO (and its message queue, when several processes share one)."""

    def publish(self, event: str, payload: dict[str, Any], rooms_: list[str]) -> None:
        socketio.emit(event, payload, to=rooms_)

    def between_messages(self) -> None:
        """Yield, so each connection's writer sends the message just queued before the next one is:
        otherwise every writer sends a change's messages together, and the last of a thousand
        displays gets ``ticket_called`` only after everyone before it also got ``queue_changed``
        (bench/realtime.py, big room: 1.6x the bare broadcast's time; 1.1x with the pause). Costs
        the request the time its first messages take to go out — a millisecond in a branch of a
        dozen screens."""
        socketio.sleep(0)


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["callwise"]
    return rt


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    """Sent by every client on connecting. Refuses anyone without valid credentials."""
    rt = _runtime()
    auth = auth if isinstance(auth, dict) else {}
    if isinstance(auth.get("ticket"), str):
        _connect_phone(rt, auth["ticket"])
        return
    actor = None
    if isinstance(auth.get("token"), str):
        actor = accounts.resolve(rt, auth["token"])
    elif session.get("token"):
        actor = accounts.resolve(rt, session["token"])
    if actor is None or actor.kind not in ("staff", "device"):
        raise ConnectionRefusedError("unauthorized")
    branch_id = _branch_for(rt, actor, auth.get("branch"))
    # Flask-SocketIO keeps a per-connection copy of the session: remember who this is for later events.
    session["socket_identity"] = {
        "kind": actor.kind, "token": auth.get("token") or session.get("token"), "branch_id": branch_id,
    }
    for room in rooms_for(actor, branch_id):
        join_room(room)
    token = str(auth["token"] if isinstance(auth.get("token"), str) else session["token"])  # the one resolved
    _credential_sockets(rt)[request.sid] = _credential_of(actor, token)  # type: ignore[attr-defined]
    emit("state_snapshot", snapshot(rt, actor, branch_id))


@socketio.on("disconnect")
def on_disconnect(*_args: Any) -> None:
    _credential_sockets(_runtime()).pop(request.sid, None)  # type: ignore[attr-defined]
    limits = getattr(socketio.server, "callwise_limits", None)
    if limits is not None:  # a namespace that ended takes its transport with it
        limits.namespace_left(request.sid)  # type: ignore[attr-defined]


def _credential_of(actor: Actor, token: str) -> dict[str, Any]:
    """What a socket connected with: the log-in token (staff) or the device and the hash of the
    token it showed, so that a device given a new token is told apart from the one that connected."""
    if actor.kind == "device":
        return {"device_id": actor.id, "staff_id": None, "token_id": None, "token_hash": accounts.hash_token(token)}
    return {"device_id": None, "staff_id": actor.id, "token_id": actor.token_id, "token_hash": None}


def _credential_sockets(rt: Runtime) -> dict[str, dict[str, Any]]:
    """This process's authenticated sockets: Socket.IO sid -> the credential it connected with."""
    kept: dict[str, dict[str, Any]] = rt.caches.setdefault("credential_sockets", {})
    return kept


def end_sockets(rt: Runtime, *, staff_id: int | None = None, token_id: int | None = None,
                device_id: int | None = None) -> int:
    """End, everywhere, a credential that has just ended: a log-in token (logout), every log-in of a
    staff member (disabled, new password, new role), a device (revoked, new token). Disconnects this
    process's sockets that connected with it and drops it from this process's token caches
    (server/accounts.py ``TokenCache``), so that its next request is refused, whichever view made the
    change. Returns how many sockets of this process were disconnected. With a message queue, the
    other server processes are told at once and do the same (:func:`listen_for_ended_credentials`);
    in any case each process's own :func:`check_credentials` notices within
    ``[limits] socket_credential_check_s``."""
    wanted = {"staff_id": staff_id, "token_id": token_id, "device_id": device_id}
    ended = _end_local(rt, wanted)
    if isinstance(socketio.server.manager, PubSubManager):
        socketio.emit(CREDENTIAL_ENDED, wanted, to=INTERNAL_ROOM)
    return ended


def _end_local(rt: Runtime, wanted: dict[str, Any]) -> int:
    accounts.forget_credential(**wanted)
    return _disconnect(rt, [sid for sid, who in list(_credential_sockets(rt).items())
                            if any(value is not None and who.get(key) == value for key, value in wanted.items())])


def tell_servers(message_queue: str, *, staff_id: int | None = None, token_id: int | None = None,
                 device_id: int | None = None) -> None:
    """From a process that serves nothing (the command line): tell every server process on the
    message queue that a credential ended, as :func:`end_sockets` does, so that they end its sockets
    and cached token at once rather than at their next periodic check. A queue that cannot be
    reached is only logged: the change is committed, and that check notices it within
    ``[limits] socket_credential_check_s``."""
    wanted = {"staff_id": staff_id, "token_id": token_id, "device_id": device_id}
    # Flask-SocketIO without an app: a write-only client of the same queue and channel as create_app's.
    SocketIO(message_queue=message_queue, channel=CHANNEL).emit(CREDENTIAL_ENDED, wanted, to=INTERNAL_ROOM)


# A credential that ended, told to every process through the message queue: an emit to a room no
# client is ever in, which each process's manager takes out before delivery.
CREDENTIAL_ENDED = "callwise:credential_ended"
INTERNAL_ROOM = "callwise:internal"
CHANNEL = "callwise"  # the message queue's channel (create_app), which the command line also publishes on


def listen_for_ended_credentials(rt: Runtime) -> bool:
    """With a message queue, end this process's sockets and cached tokens of a credential another
    process ended (:func:`end_sockets`, :func:`tell_servers`), as soon as its message arrives.
    Returns whether there is a queue to hear.

    python-socketio starts listening to the queue at the first socket connection only; a process
    whose clients have only made HTTP requests so far must hear it too (its token cache), so the
    listening starts here, as that first connection would start it."""
    server = socketio.server
    manager = server.manager
    if not isinstance(manager, PubSubManager):
        return False
    deliver = manager._handle_emit

    def handle_emit(message: dict[str, Any]) -> None:
        if message.get("event") != CREDENTIAL_ENDED:
            deliver(message)
            return
        data = message.get("data")
        wanted = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        _end_local(rt, {key: wanted.get(key) for key in ("staff_id", "token_id", "device_id")})

    manager._handle_emit = handle_emit
    if not server.manager_initialized:
        server.manager_initialized = True
        manager.initialize()
    return True


def _disconnect(rt: Runtime, sids: list[str]) -> int:
    for sid in sids:
        _credential_sockets(rt).pop(sid, None)
        # The page hears "io server disconnect", tries again and is refused: live.js then shows the
        # log-in (staff) or "pair this screen again" (devices).
        socketio.server.disconnect(sid, namespace="/", ignore_queue=True)
    return len(sids)


def check_credentials(rt: Runtime) -> int:
    """Disconnect this process's sockets whose credential has ended since they connected: a log-in
    token revoked (logout, new password) or expired, its staff member disabled, a device revoked or
    given a new token; and re-confirm this runtime's cached tokens (server/accounts.py
    ``TokenCache.confirm``), dropping those that ended or changed. One query per kind over the
    distinct ids held by both, whoever made the change (this process, another one, the CLI).
    Returns how many sockets were disconnected."""
    cache = accounts.token_cache(rt)
    started = cache.monotonic()  # before held(): what is kept later is newer than this check
    cached_log_ins, cached_devices = cache.held()
    held = list(_credential_sockets(rt).items())
    if not held and not cached_log_ins and not cached_devices:
        return 0
    token_ids = [who["token_id"] for _, who in held if who.get("token_id") is not None] + cached_log_ins
    device_ids = [who["device_id"] for _, who in held if who.get("device_id") is not None] + cached_devices
    now = wall_now()
    log_ins, devices = accounts.credential_rows(rt, token_ids, device_ids)
    cache.confirm(started, log_ins, devices, now)
    live_tokens = {token_id for token_id, row in log_ins.items()
                   if row.revoked_at is None and row.active and row.expires_at > now}
    ended = [sid for sid, who in held
             if (who.get("token_id") is not None and who["token_id"] not in live_tokens)
             or (who.get("device_id") is not None
                 and getattr(devices.get(who["device_id"]), "token_hash", None) != who["token_hash"])]
    return _disconnect(rt, [sid for sid in ended if sid in _credential_sockets(rt)])


class CredentialWatch:
    """Runs :func:`check_credentials` every ``[limits] socket_credential_check_s`` (2 s) in a
    background task of its own, in every server process (not only the alert sweeper's: each process
    holds its own sockets and token cache); with a message queue, also hears the other processes' (and
    the command line's) ended credentials. That period is the longest a credential ended without a
    message reaching this process stays usable here (server/accounts.py ``TokenCache``)."""

    def __init__(self, rt: Runtime, every_s: float | None = None) -> None:
        self.rt = rt
        self.every_s = every_s if every_s is not None else rt.config.limits.socket_credential_check_s
        self._stopped = False

    def start(self, start_task: Any, sleep: Any) -> CredentialWatch:
        listen_for_ended_credentials(self.rt)
        start_task(self._loop, sleep)
        return self

    def stop(self) -> None:
        self._stopped = True

    def _loop(self, sleep: Any) -> None:
        while not self._stopped:
            sleep(self.every_s)
            try:
                check_credentials(self.rt)
            except OperationalError as exc:  # database away: the sockets keep going until it is back
                log.warning("socket credential check skipped, database unavailable: %s", exc.orig)
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad check
                log.exception("socket credential check failed")


@socketio.on("request_snapshot")
def on_request_snapshot(_data: Any = None) -> None:
    """Sent by a client that suspects it missed events; answered with a fresh ``state_snapshot``."""
    rt = _runtime()
    who = session.get("socket_identity")
    if not who:
        return
    if who["kind"] == "ticket":
        with rt.reading() as db:
            ticket = db.get(Ticket, who["ticket_id"])
            if ticket is not None:
                view = reads.ticket_with_live_estimate(db, rt.config_for(ticket.branch_id), ticket, rt.clock.now(),
                                                         for_holder=True)
                emit("state_snapshot", {"role": "ticket", "ticket": view, "now": rt.clock.now().isoformat(),
                                        "version": reads.branch_version(db, ticket.branch_id)})
        return
    actor = accounts.resolve(rt, who["token"])
    if actor is None:  # logged out or revoked since connecting
        disconnect()
        return
    emit("state_snapshot", snapshot(rt, actor, who["branch_id"]))


def _connect_phone(rt: Runtime, token: str) -> None:
    with rt.reading() as db:
        try:
            ticket = ticket_row_by_token(db, token)
        except NotFound:
            raise ConnectionRefusedError("unknown ticket") from None
        join_room(rooms.ticket(ticket.id))
        join_room(rooms.phones(ticket.branch_id))
        session["socket_identity"] = {"kind": "ticket", "ticket_id": ticket.id}
        view = reads.ticket_with_live_estimate(db, rt.config_for(ticket.branch_id), ticket, rt.clock.now(),
                                                 for_holder=True)
        version = reads.branch_version(db, ticket.branch_id)
    emit("state_snapshot", {"role": "ticket", "ticket": view, "now": rt.clock.now().isoformat(), "version": version})


def _branch_for(rt: Runtime, actor: Actor, code: Any) -> int:
    """The branch a connection is about (:func:`server.branches.branch_for`); refused like HTTP's 403/404."""
    try:
        return branch_for(rt, actor, code if isinstance(code, str) else None)
    except CallwiseError as exc:
        raise ConnectionRefusedError(exc.code) from None


def rooms_for(actor: Actor, branch_id: int) -> list[str]:
    """The rooms a staff member or device may hear."""
    if actor.is_device("display"):
        return [rooms.displays(branch_id)]
    if actor.is_device("kiosk"):
        return [rooms.kiosks(branch_id)]
    joined = [rooms.staff(branch_id), rooms.person(actor.id or 0)]
    if actor.is_manager:
        joined.append(rooms.managers(branch_id))
    return joined


# The part of a state_snapshot every screen of a branch shares is kept per branch, with the event-log
# version and business day it was read at: a thousand displays connecting at once (a restart, a
# network blip) would otherwise each read the whole branch — on connect that read was 65% of the
# server's work (bench/realtime.py, py-spy).
SHARED_SNAPSHOT_S = 2.0


def _shared_part(rt: Runtime, db: Any, branch_id: int, now: Any) -> dict[str, Any]:
    config = rt.config_for(branch_id)
    key = (reads.branch_version(db, branch_id), now.astimezone(config.tz).date())
    kept: dict[int, tuple[Any, float, dict[str, Any]]] = rt.caches.setdefault("shared_snapshots", {})
    cached = kept.get(branch_id)
    if cached is not None and cached[0] == key and 0 <= time.monotonic() - cached[1] < SHARED_SNAPSHOT_S:
        return cached[2]
    version, day = key
    branch = db.get(Branch, branch_id)
    part = {
        "branch": {"code": branch.code, "name": branch.name, "languages": branch.languages,
                   "timezone": branch.timezone} if branch else None,
        "services": reads.services_with_estimates(db, config, branch_id, now),
        "version": version,
        "counters": reads.counter_views(db, config, branch_id),
        "recent_calls": reads.recent_calls(db, branch_id, day_start_utc(day, config.tz)),
    }
    kept[branch_id] = (key, time.monotonic(), part)
    return part


def snapshot(rt: Runtime, actor: Actor, branch_id: int) -> dict[str, Any]:
    """The current state a client of this role may see. What every screen of the branch shares is
    read once per event-log version (and at most ``SHARED_SNAPSHOT_S`` old); the staff's queue and
    alerts are read for each."""
    now = rt.clock.now()
    with rt.reading() as db:
        shared = _shared_part(rt, db, branch_id, now)
        out: dict[str, Any] = {"role": actor.role, "now": now.isoformat(), "branch": shared["branch"],
                               "services": shared["services"], "version": shared["version"],
                               "hours": hours_now(rt.config_for(branch_id).hours, now).as_dict()}
        if actor.is_device("kiosk"):
            return out
        out["counters"] = shared["counters"]
        out["recent_calls"] = shared["recent_calls"]
        if actor.is_staff:
            out["queue"] = reads.waiting_tickets(db, rt.config_for(branch_id), branch_id, now)
            # Managers see every open alert and instruction; a teller only those of the counter they hold.
            mine = None if actor.is_manager else actor.id
            out["alerts"] = open_alerts_for(db, rt, branch_id, mine)
            out["instructions"] = current_instructions(db, rt, branch_id, now, staff_id=mine)
    return out


HEARTBEAT_S = 10.0
# How long the heartbeat keeps telling a phone page the version of a change only it heard (a start,
# a recall, a finish): long enough for a message-queue restart to be over.
HOLDER_WINDOW_S = 600.0
# The heartbeat reads the event log above the newest id minus this: a PostgreSQL transaction that
# took a lower id but committed late is still counted.
VERSION_SPAN = 1000


class Heartbeat:
    """Tell every screen of every branch where its part of the event log stands (the sweeping
    process does this after a sweep, every ``HEARTBEAT_S`` seconds). A screen that has seen an older
    version missed a message — during a Redis restart, say — and asks for a fresh state_snapshot.
    Not after every 2-second sweep: with thousands of screens connected, the heartbeats were most of
    an idle server's work (bench/realtime.py)."""

    def __init__(self, rt: Runtime, every_s: float = HEARTBEAT_S, monotonic: Any = time.monotonic) -> None:
        self.rt, self.every_s, self.monotonic = rt, every_s, monotonic
        self._last: float | None = None

    def __call__(self) -> None:
        if self._last is not None and self.monotonic() - self._last < self.every_s:
            return
        self._last = self.monotonic()
        heartbeat(self.rt)


class AudienceVersions:
    """What the heartbeat tells each family of screens: per branch, the newest event that family
    heard (versions per audience, so a display does not resynchronise after a change only staff
    heard), and the tickets whose own phone page alone heard a change lately. Read incrementally:
    each branch once in full, then only the log's newest events."""

    def __init__(self, monotonic: Any = time.monotonic) -> None:
        self.monotonic = monotonic
        self.families: dict[int, dict[Audience, int]] = {}
        self.holders: dict[int, tuple[int, int, float]] = {}  # ticket id -> (branch id, version, since)

    def read(self, db: Any, branch_ids: list[int]) -> None:
        floor = max(0, reads.newest_event_id(db) - VERSION_SPAN)
        for branch_id, newest in reads.audience_versions_above(db, floor).items():
            known = self.families.get(branch_id)
            if known is not None:
                for family, version in newest.items():
                    known[family] = max(known.get(family, 0), version)
        for branch_id in branch_ids:
            if branch_id not in self.families:
                self.families[branch_id] = reads.audience_versions(db, branch_id)
        now = self.monotonic()
        for branch_id, ticket_id, version in reads.holder_versions_above(db, floor):
            kept = self.holders.get(ticket_id)
            if kept is None or kept[1] != version:
                self.holders[ticket_id] = (branch_id, version, now)
        self.holders = {ticket_id: kept for ticket_id, kept in self.holders.items()
                        if now - kept[2] <= HOLDER_WINDOW_S}


def heartbeat(rt: Runtime) -> None:
    """One heartbeat to every screen of every branch (see :class:`Heartbeat`): each family its own
    version (rooms with the same version in one message), and each phone page whose ticket alone
    heard a change lately that change's version, marked ``"audience": "ticket"``."""
    now = rt.clock.now().isoformat()
    versions: AudienceVersions = rt.caches.setdefault("audience_versions", AudienceVersions())
    branch_ids = list(rt.branch_ids.values())
    with rt.reading() as db:
        versions.read(db, branch_ids)
    holders: dict[int, list[tuple[int, int]]] = {}
    for ticket_id, (branch_id, version, _since) in versions.holders.items():
        holders.setdefault(branch_id, []).append((ticket_id, version))
    for branch_id in branch_ids:
        by_version: dict[int, list[str]] = {}
        for family in HEARTBEAT_FAMILIES:
            version = versions.families.get(branch_id, {}).get(family, 0)
            by_version.setdefault(version, []).extend(rooms.of(family, branch_id))
        for version, targets in by_version.items():
            socketio.emit("heartbeat", {"version": version, "now": now}, to=targets)
        for ticket_id, version in holders.get(branch_id, ()):
            socketio.emit("heartbeat", {"version": version, "now": now, "audience": "ticket"},
                          to=rooms.ticket(ticket_id))
        socketio.sleep(0)  # many branches: let requests in between
