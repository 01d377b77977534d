"""Staff accounts, log-ins and device tokens.

Passwords are hashed with werkzeug's scrypt. Log-in and device tokens are 256-bit random strings of
which only the SHA-256 is stored, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from server.actors import DEVICE_KINDS, STAFF_ROLES, Actor
from server.clock import wall_now
from server.errors import Conflict, Invalid, NotFound, Unauthorized, require_one_of
from server.models import AuditEntry, AuthToken, Branch, Device, Staff
from server.passwords import check_password, hash_password, password_problem
from server.runtime import Runtime

log = logging.getLogger(__name__)


@cache
def _dummy_hash() -> str:
    """Checked against when the username is unknown, so a wrong name costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(secret_key: str | bytes, token: str) -> str:
    """The CSRF token that goes with a log-in token: derived, so nothing more is stored."""
    key = secret_key if isinstance(secret_key, bytes) else secret_key.encode()
    return hmac.new(key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def save_staff(
    rt: Runtime, username: str, role: str, password: str, *, display_name: str | None = None,
    branch_code: str | None = None,
) -> tuple[Staff, bool]:
    """Create or update a staff account. Returns ``(staff, created)``. :class:`Invalid`
    (``weak_password``, 422 in the API) for a password the policy of :mod:`server.passwords` refuses.

    Tellers and managers belong to one branch (the config's, unless named); admins to every branch.
    """
    require_one_of(STAFF_ROLES, role, "role", "unknown_role")
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise Invalid("a username is 1–64 letters, digits, '.', '_' or '-'", code="bad_username")
    problem = password_problem(password, username)
    if problem is not None:
        raise Invalid(problem, code="weak_password")
    password_hash = hash_password(password)  # before the transaction: it holds the write lock
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        branch_id = None
        if role != "admin":
            code = branch_code or rt.config.branch.code
            branch_id = session.scalar(select(Branch.id).where(Branch.code == code))
            if branch_id is None:
                raise NotFound(f"there is no branch {code!r}", code="unknown_branch")
        staff = session.scalar(select(Staff).where(Staff.username == username))
        created = staff is None
        if staff is None:
            staff = Staff(username=username, created_at=now, active=True)
            session.add(staff)
        staff.display_name = display_name or staff.display_name or username
        staff.role = role
        staff.branch_id = branch_id
        staff.password_hash = password_hash
        if not created:
            # A new password ends every existing log-in of the account.
            for token in session.scalars(
                select(AuthToken).where(AuthToken.staff_id == staff.id, AuthToken.revoked_at.is_(None))
            ):
                token.revoked_at = now
        uow.commit()
        staff_id = staff.id
    if not created:
        credential_ended(rt, staff_id=staff_id)
    return staff, created


def add_device(rt: Runtime, name: str, kind: str, branch_code: str | None = None) -> str:
    """Register a kiosk or display and return its token (shown once; only its hash is kept).

    Adding a device that exists gives it a new token and revokes the old one.
    """
    require_one_of(DEVICE_KINDS, kind, "device kind", "unknown_kind")
    if not name or len(name) > 64:
        raise Invalid("a device name is 1–64 characters", code="bad_name")
    token = new_token()
    now = rt.clock.now()
    with rt.uow() as uow:
        session = uow.session
        code = branch_code or rt.config.branch.code
        branch_id = session.scalar(select(Branch.id).where(Branch.code == code))
        if branch_id is None:
            raise NotFound(f"there is no branch {code!r}", code="unknown_branch")
        device = session.scalar(select(Device).where(Device.branch_id == branch_id, Device.name == name))
        replaced = device is not None
        if device is None:
            device = Device(branch_id=branch_id, name=name, created_at=now)
            session.add(device)
        elif device.kind != kind:
            raise Conflict(f"device {name!r} exists and is a {device.kind}", code="device_kind_mismatch")
        device.kind = kind
        device.token_hash = hash_token(token)
        device.revoked_at = None
        uow.commit()
        device_id = device.id
    if replaced:
        credential_ended(rt, device_id=device_id)
    return token


def login(rt: Runtime, username: str, password: str) -> dict[str, Any]:
    """Check a username and password; on success create a log-in token.

    Log-in lifetimes run on the wall clock, not the branch clock: a simulated day on a manual clock
    must not log everyone out, and a real log-in must expire in real hours.

    The password is checked off the event loop and outside any transaction (it takes a while, and a
    write transaction holds the database's write lock); the account is read again in the transaction
    that stores the token, so a password changed or an account disabled meanwhile is honoured.
    """
    with rt.reading() as session:
        found = session.execute(select(Staff.password_hash, Staff.active).where(Staff.username == username)).first()
    if found is None or not found.active:
        check_password(_dummy_hash(), password)
        raise Unauthorized("wrong username or password", code="bad_credentials")
    if not check_password(found.password_hash, password):
        raise Unauthorized("wrong username or password", code="bad_credentials")
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        staff = session.scalar(select(Staff).where(Staff.username == username))
        if staff is None or not staff.active or staff.password_hash != found.password_hash:
            raise Unauthorized("wrong username or password", code="bad_credentials")
        token = new_token()
        session.add(
            AuthToken(
                token_hash=hash_token(token),
                staff_id=staff.id,
                created_at=now,
                expires_at=now + timedelta(hours=rt.config.server.token_lifetime_hours),
            )
        )
        uow.commit()
        return {"token": token, "staff": staff_view(staff)}


def logout(rt: Runtime, token: str) -> int | None:
    """Revoke a log-in token; returns its id (for ending its sockets), None for an unknown token."""
    now = wall_now()
    with rt.uow() as uow:
        row = uow.session.scalar(select(AuthToken).where(AuthToken.token_hash == hash_token(token)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now
        uow.commit()
        token_id = row.id if row is not None else None
    if token_id is not None:
        credential_ended(rt, token_id=token_id)
    return token_id


def staff_view(staff: Staff) -> dict[str, Any]:
    return {"id": staff.id, "username": staff.username, "name": staff.display_name, "role": staff.role}


def resolve(rt: Runtime, token: str) -> Actor | None:
    """The staff member or device a bearer token belongs to, or None.

    Served from this process's :class:`TokenCache` when the token was resolved lately, with no query:
    a log-in's expiry is checked on every use (wall clock), and last seen is noted at most once a
    minute as before. How soon a change made elsewhere is noticed: see :class:`TokenCache`.
    """
    if not token or len(token) > 128:
        return None
    digest = hash_token(token)
    now = wall_now()
    cache = token_cache(rt)
    entry = cache.lookup(digest)
    if entry is None or not cache.confirmed_lately(entry):
        generation = cache.generation
        entry = _read_credential(rt, digest, now, entry.actor.kind if entry is not None else None)
        if entry is None:
            cache.drop(digest)
            return None
        cache.put(digest, entry, generation)
    elif entry.expires_at is not None and _expired(entry.expires_at, now):
        cache.drop(digest)
        return None
    if entry.seen is None or now - entry.seen >= LAST_SEEN_EVERY:
        seen, entry.seen = entry.seen, now
        _note_seen(rt, Staff if entry.actor.is_staff else Device, entry.actor.id or 0, seen, now)
    return entry.actor


def _read_credential(rt: Runtime, digest: str, now: datetime, kind: str | None) -> _Entry | None:
    """The credential of a token hash as the database has it now, or None (unknown, revoked, disabled,
    expired). ``kind``: what it was when last read (a device stays a device): one query instead of two."""
    staff_q, device_q = _resolve_statements()
    with rt.reading() as session:
        db = session.connection()
        staff = db.execute(staff_q, {"digest": digest}).first() if kind != "device" else None
        if staff is not None:
            if staff.revoked_at is not None or not staff.active or _expired(staff.expires_at, now):
                return None
            actor = Actor(kind="staff", id=staff.id, role=staff.role, branch_id=staff.branch_id,
                          name=staff.display_name, token_id=staff.token_id)
            return _Entry(actor, staff.expires_at, staff.last_seen_at)
        device = db.execute(device_q, {"digest": digest}).first() if kind != "staff" else None
        if device is None:
            return None
        actor = Actor(kind="device", id=device.id, role=device.kind, branch_id=device.branch_id, name=device.name)
        return _Entry(actor, None, device.last_seen_at)


@cache
def _resolve_statements() -> tuple[Any, Any]:
    """A token read from the database: plain rows, statements built once."""
    digest = bindparam("digest", type_=String())
    return (
        select(AuthToken.id.label("token_id"), AuthToken.revoked_at, AuthToken.expires_at, Staff.id, Staff.role,
               Staff.branch_id, Staff.display_name, Staff.active, Staff.last_seen_at)
        .join(Staff, Staff.id == AuthToken.staff_id).where(AuthToken.token_hash == digest),
        select(Device.id, Device.kind, Device.branch_id, Device.name, Device.last_seen_at)
        .where(Device.token_hash == digest, Device.revoked_at.is_(None)),
    )


def _expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now


# --- Resolved tokens, kept per process (issue 17) ------------------------------------------------------------

TOKEN_CACHE = "resolved_tokens"  # the key of a runtime's TokenCache in rt.caches
CREDENTIAL_HOOKS = "credential_ended_hooks"  # rt.caches: who else to tell when a credential ends (the CLI)
TOKEN_CACHE_SIZE = 20_000  # credentials: every teller, kiosk and display of 200 branches, several times over
TOKEN_CACHE_IDLE_S = 600.0  # an entry unused this long is dropped rather than re-confirmed


@dataclass(slots=True)
class _Entry:
    """One resolved token: who it is, what decides whether it still works without a query, and when
    the database last said it does."""

    actor: Actor
    expires_at: datetime | None  # a log-in's end on the wall clock; devices do not expire
    seen: datetime | None  # last_seen_at as read, or when this process last noted it
    confirmed: float = 0.0  # monotonic: when the database last said this credential works, as it is
    used: float = 0.0  # monotonic: the last request that used it


class TokenCache:
    """Token hash -> the staff member or device it resolves to, so that a request with a known token
    runs no query (issue 17: resolution was two SELECTs and a read transaction per request, 10-12% of
    the server's CPU). Only credentials that work are kept; an unknown, revoked or expired token is
    looked up again each time, so a device token made a moment ago works at once.

    How soon a change is noticed, by where it was made:

    - **In this process** (an admin's disable, password reset, role change, device revoke or new
      device token, a log-out, or the command line run in-process): at once. Every function of this
      module that ends a credential calls :func:`credential_ended` once its transaction is committed,
      which drops the entries of every cache of the process.
    - **In another server process**, with a message queue: as soon as its message arrives
      (server/realtime.py ``end_sockets`` tells every process, whose listener drops the entries along
      with the sockets); the command line tells them the same way when the config names a message queue.
    - **Anywhere else** (the command line without a message queue, a change made in the database, a
      queue message lost): within ``[limits] socket_credential_check_s`` (2 s). Each server process's
      CredentialWatch re-reads every cached credential in that check (one query per kind for all of
      them, with its sockets' credentials), dropping those that ended or changed and confirming the
      rest. An entry no check has confirmed for ``max_age_s`` (twice the check's period: where no
      watch runs, or while it is late) is read again at its next use.
    - **Expiry**: checked on every use, on the wall clock, without a query.

    An in-flight read that began before a credential ended is not kept (:meth:`put` compares
    generations). Bounded: least recently used entries go past ``size``, and entries unused for
    ``TOKEN_CACHE_IDLE_S`` are dropped at the next check rather than re-read. Safe between threads
    and greenlets: one lock, held for dictionary operations only (no I/O).
    """

    def __init__(self, max_age_s: float, size: int = TOKEN_CACHE_SIZE, monotonic: Callable[[], float] = time.monotonic,
                 ) -> None:
        self.max_age_s = max_age_s
        self.size = size
        self.monotonic = monotonic
        self.generation = 0  # moves on every forget: a read that began before it is not kept
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, digest: str) -> _Entry | None:
        """The entry of a token hash, confirmed lately or not (:meth:`confirmed_lately` says)."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
                entry.used = self.monotonic()
            return entry

    def confirmed_lately(self, entry: _Entry) -> bool:
        return 0 <= self.monotonic() - entry.confirmed <= self.max_age_s

    def put(self, digest: str, entry: _Entry, generation: int) -> None:
        """Keep ``entry``, read from the database while the cache was at ``generation``; unless a
        credential ended since (the read may have seen it before it ended)."""
        entry.confirmed = entry.used = self.monotonic()
        with self._lock:
            if generation != self.generation:
                return
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def forget(self, *, staff_id: int | None = None, token_id: int | None = None,
               device_id: int | None = None) -> int:
        """Drop the entries of a credential that ended: every log-in of a staff member, one log-in,
        or a device (whatever token it had). Returns how many were dropped."""
        with self._lock:
            self.generation += 1
            gone = [digest for digest, entry in self._entries.items()
                    if _is_credential(entry.actor, staff_id, token_id, device_id)]
            for digest in gone:
                del self._entries[digest]
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def held(self) -> tuple[list[int], list[int]]:
        """The log-in token ids and device ids to re-confirm, after dropping the entries unused for
        ``TOKEN_CACHE_IDLE_S``."""
        now = self.monotonic()
        with self._lock:
            for digest in [d for d, entry in self._entries.items() if now - entry.used > TOKEN_CACHE_IDLE_S]:
                del self._entries[digest]
            entries = list(self._entries.values())
        return ([e.actor.token_id for e in entries if e.actor.token_id is not None],
                [e.actor.id for e in entries if e.actor.kind == "device" and e.actor.id is not None])

    def confirm(self, started: float, log_ins: dict[int, Any], devices: dict[int, Any], now: datetime) -> int:
        """Apply a check that began at ``started`` (monotonic, before :meth:`held`): ``log_ins`` and
        ``devices`` are the rows of :func:`credential_rows` for the ids it held. An entry whose
        credential ended, or whose staff member or device changed (role, branch, name), is dropped;
        the others are confirmed as of ``started``. Entries kept after ``started`` are left as they
        are: their own read is as new. Returns how many were dropped."""
        with self._lock:
            items = [(digest, entry) for digest, entry in self._entries.items() if entry.confirmed <= started]
            gone = []
            for digest, entry in items:
                if _still_works(digest, entry.actor, log_ins, devices, now):
                    entry.confirmed = max(entry.confirmed, started)
                else:
                    gone.append(digest)
            for digest in gone:
                self._entries.pop(digest, None)
        return len(gone)


_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()  # every runtime's cache in this process


def _is_credential(actor: Actor, staff_id: int | None, token_id: int | None, device_id: int | None) -> bool:
    if actor.kind == "staff":
        return (staff_id is not None and actor.id == staff_id) or (token_id is not None and actor.token_id == token_id)
    return device_id is not None and actor.id == device_id


def _still_works(digest: str, actor: Actor, log_ins: dict[int, Any], devices: dict[int, Any], now: datetime) -> bool:
    if actor.kind == "staff":
        row = log_ins.get(actor.token_id or 0)
        return (row is not None and row.revoked_at is None and row.active and not _expired(row.expires_at, now)
                and (row.staff_id, row.role, row.branch_id, row.display_name)
                == (actor.id, actor.role, actor.branch_id, actor.name))
    row = devices.get(actor.id or 0)
    return (row is not None and row.token_hash == digest
            and (row.kind, row.branch_id, row.name) == (actor.role, actor.branch_id, actor.name))


def token_cache(rt: Runtime) -> TokenCache:
    """This runtime's :class:`TokenCache` (made at first use)."""
    cache: TokenCache | None = rt.caches.get(TOKEN_CACHE)
    if cache is None:
        made = TokenCache(max_age_s=2 * rt.config.limits.socket_credential_check_s)
        cache = rt.caches.setdefault(TOKEN_CACHE, made)
    return cache


def forget_credential(*, staff_id: int | None = None, token_id: int | None = None,
                      device_id: int | None = None) -> None:
    """Drop an ended credential from every token cache of this process (every runtime: the command
    line run in-process has one of its own beside the app's). Dropping too much costs a query."""
    for kept in list(_CACHES):
        kept.forget(staff_id=staff_id, token_id=token_id, device_id=device_id)


def credential_ended(rt: Runtime, *, staff_id: int | None = None, token_id: int | None = None,
                     device_id: int | None = None) -> None:
    """Called once a change that ends a credential is committed: :func:`forget_credential`, then the
    runtime's ``CREDENTIAL_HOOKS`` (the command line's tells the server processes through the message
    queue). The API's views also end the credential's sockets (server/realtime.py ``end_sockets``),
    which tells the other server processes."""
    forget_credential(staff_id=staff_id, token_id=token_id, device_id=device_id)
    for tell in rt.caches.get(CREDENTIAL_HOOKS, ()):
        try:
            tell(staff_id=staff_id, token_id=token_id, device_id=device_id)
        except Exception:  # noqa: BLE001 - the change is committed; the servers' check notices it anyway
            log.exception("could not tell the servers that a credential ended")


_IN_CHUNK = 500  # ids per IN (...) list: SQLite's limit on bound parameters is far above it


def credential_rows(rt: Runtime, token_ids: list[int], device_ids: list[int]) -> tuple[dict[int, Any], dict[int, Any]]:
    """The log-ins (with their staff member) and the unrevoked devices of these ids, as the database
    has them now: one query per kind and per ``_IN_CHUNK`` ids. What the periodic credential check
    compares sockets and cached tokens with."""
    log_ins: dict[int, Any] = {}
    devices: dict[int, Any] = {}
    token_ids, device_ids = sorted(set(token_ids)), sorted(set(device_ids))
    with rt.reading() as db:
        for start in range(0, len(token_ids), _IN_CHUNK):
            log_ins.update((row.id, row) for row in db.execute(
                select(AuthToken.id, AuthToken.revoked_at, AuthToken.expires_at, Staff.active,
                       Staff.id.label("staff_id"), Staff.role, Staff.branch_id, Staff.display_name)
                .join(Staff, Staff.id == AuthToken.staff_id)
                .where(AuthToken.id.in_(token_ids[start:start + _IN_CHUNK]))))
        for start in range(0, len(device_ids), _IN_CHUNK):
            devices.update((row.id, row) for row in db.execute(
                select(Device.id, Device.token_hash, Device.kind, Device.branch_id, Device.name)
                .where(Device.id.in_(device_ids[start:start + _IN_CHUNK]), Device.revoked_at.is_(None))))
    return log_ins, devices



# --- Administration: listing, disabling, enabling, passwords, roles, revoking (issue 16, finding 3) --------
#
# Every change below is refused whole (nothing written) or written together with its AuditEntry in one
# transaction. Once committed, a change that ends a credential calls credential_ended (this process's
# token caches, and the command line's message to the servers). Ending its open sockets is the
# caller's part (server/api/admin.py calls server.realtime.end_sockets, which also tells the other
# server processes; a CLI process has no sockets, and the servers' own periodic check ends them
# there): this module knows nothing of Socket.IO.

LAST_SEEN_EVERY = timedelta(minutes=1)
# Generated passwords: no 0/o, 1/l/i, so one read aloud or copied from a screen is typed right.
GENERATED_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GENERATED_GROUPS = 4  # xxxx-xxxx-xxxx-xxxx: 16 characters of 31, about 79 bits


@dataclass(frozen=True)
class ByWhom:
    """Who does an administrative action, as the audit log records it."""

    via: str  # api | cli
    name: str  # the admin's username, or the OS user running the command
    staff_id: int | None = None

    @classmethod
    def admin(cls, actor: Actor, username: str) -> ByWhom:
        return cls(via="api", name=username, staff_id=actor.id)

    @classmethod
    def command_line(cls) -> ByWhom:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
        return cls(via="cli", name=user)


def generate_password(username: str = "") -> str:
    """A strong password for ``username``, shown once: random, readable aloud, and always within the policy."""
    while True:
        chars = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(4 * GENERATED_GROUPS))
        password = "-".join(chars[i:i + 4] for i in range(0, len(chars), 4))
        if password_problem(password, username) is None:
            return password


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _branch_codes(session: Any) -> dict[int, str]:
    return {branch_id: code for branch_id, code in session.execute(select(Branch.id, Branch.code))}


def _staff_row(staff: Staff, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": staff.id, "username": staff.username, "name": staff.display_name, "role": staff.role,
        "branch": codes.get(staff.branch_id) if staff.branch_id is not None else None,
        "state": "active" if staff.active else "disabled", "last_seen_at": _iso(staff.last_seen_at),
        "created_at": _iso(staff.created_at), "demo": bool(staff.demo),
    }


def _device_row(device: Device, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": device.id, "name": device.name, "kind": device.kind, "branch": codes.get(device.branch_id),
        "state": "revoked" if device.revoked_at is not None else "active",
        "revoked_at": _iso(device.revoked_at), "last_seen_at": _iso(device.last_seen_at),
        "created_at": _iso(device.created_at), "demo": bool(device.demo),
    }


BRANCH_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # the config's own rule (server/config.py)


def _branch_id(session: Any, code: str) -> int:
    """The id of the branch ``code`` names; 404 ``unknown_branch`` (a code no config can have is not
    even looked up: PostgreSQL refuses a NUL in a query, which would be a 500)."""
    branch_id = session.scalar(select(Branch.id).where(Branch.code == code)) if BRANCH_CODE.match(code) else None
    if branch_id is None:
        raise NotFound(f"there is no branch {code!r}", code="unknown_branch")
    return int(branch_id)


def list_staff(rt: Runtime, branch_code: str | None = None) -> list[dict[str, Any]]:
    """Every staff account (of one branch when named; admins of every branch are listed with each),
    by username, with role, branch, state, last seen and whether demo mode created it."""
    with rt.reading() as session:
        query = select(Staff).order_by(Staff.username)
        if branch_code is not None:
            branch_id = _branch_id(session, branch_code)
            query = query.where((Staff.branch_id == branch_id) | Staff.branch_id.is_(None))
        codes = _branch_codes(session)
        return [_staff_row(staff, codes) for staff in session.scalars(query)]


def list_devices(rt: Runtime, branch_code: str | None = None) -> list[dict[str, Any]]:
    """Every kiosk and display (of one branch when named), by branch and name, with state and last seen."""
    with rt.reading() as session:
        query = select(Device).order_by(Device.branch_id, Device.name)
        if branch_code is not None:
            query = query.where(Device.branch_id == _branch_id(session, branch_code))
        codes = _branch_codes(session)
        return [_device_row(device, codes) for device in session.scalars(query)]


def list_audit(rt: Runtime, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first: ``limit`` entries older than the entry ``before`` (an id) when given."""
    with rt.reading() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditEntry.id < before)
        codes = _branch_codes(session)
        return [{
            "id": entry.id, "at": _iso(entry.at), "via": entry.via, "actor": entry.actor_name,
            "actor_staff_id": entry.actor_staff_id, "action": entry.action, "target_kind": entry.target_kind,
            "target": entry.target_name, "branch": codes.get(entry.branch_id) if entry.branch_id else None,
            "detail": entry.detail or {},
        } for entry in session.scalars(query)]


def _check_name(value: str, what: str) -> None:
    """:class:`Invalid` for a name with control or format characters: a NUL (which PostgreSQL refuses),
    a line break that would break the CLI's table, a bidi override that shows another name than it is."""
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise Invalid(f"a {what} cannot contain control or formatting characters", code="bad_name")


def _audit(session: Any, by: ByWhom, now: datetime, action: str, target: Staff | Device,
           detail: dict[str, Any] | None = None) -> None:
    session.add(AuditEntry(
        at=now, via=by.via, actor_staff_id=by.staff_id, actor_name=by.name, action=action,
        target_kind="staff" if isinstance(target, Staff) else "device",
        target_name=target.username if isinstance(target, Staff) else target.name,
        branch_id=target.branch_id, detail=detail or None,
    ))


ACCOUNTS_LOCK = 0x43414C41  # any constant shared by every Callwise process ("CALA")


def _one_change_at_a_time(session: Any) -> None:
    """Administrative changes run one after another: two admins disabling the last two other admins
    at once must not both pass the last-admin check. SQLite's BEGIN IMMEDIATE already serializes writes;
    PostgreSQL takes a transaction-scoped advisory lock (rare changes: nothing waits for long)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ACCOUNTS_LOCK})


def _find_staff(session: Any, who: int | str) -> Staff:
    """The account with this id (the API) or username (the CLI), after :func:`_one_change_at_a_time`;
    404 otherwise."""
    _one_change_at_a_time(session)
    column = Staff.id if isinstance(who, int) else Staff.username
    staff: Staff | None = session.scalar(select(Staff).where(column == who))
    if staff is None:
        raise NotFound(f"there is no staff account {who!r}", code="unknown_staff")
    return staff


def _end_log_ins(session: Any, staff: Staff, now: datetime) -> int:
    """Revoke every live log-in token of ``staff``; how many there were."""
    ended = 0
    for token in session.scalars(
        select(AuthToken).where(AuthToken.staff_id == staff.id, AuthToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
        ended += 1
    return ended


def _other_active_admins(session: Any, staff: Staff) -> int:
    query = select(Staff.id).where(Staff.role == "admin", Staff.active.is_(True), Staff.id != staff.id)
    return len(session.scalars(query).all())


def _refuse_losing_an_admin(session: Any, staff: Staff, by: ByWhom, doing: str) -> None:
    """Nobody locks themselves out, and the last active admin stays: someone must be able to undo it."""
    if by.staff_id is not None and by.staff_id == staff.id:
        raise Conflict(f"you cannot {doing} your own account; ask another admin", code="own_account")
    if staff.role == "admin" and staff.active and _other_active_admins(session, staff) == 0:
        raise Conflict(f"{staff.username!r} is the last active admin; add or enable another admin first",
                       code="last_admin")


def disable_staff(rt: Runtime, who: int | str, by: ByWhom) -> dict[str, Any]:
    """Disable an account: it cannot log in, and every log-in token of it stops working at once (the
    caller then ends its open sockets). 409 for the caller's own account, the last active admin, or an
    account already disabled."""
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        staff = _find_staff(session, who)
        if not staff.active:
            raise Conflict(f"{staff.username!r} is already disabled", code="already_disabled")
        _refuse_losing_an_admin(session, staff, by, "disable")
        staff.active = False
        ended = _end_log_ins(session, staff, now)
        _audit(session, by, now, "staff_disabled", staff, {"log_ins_ended": ended})
        uow.commit()
        row = _staff_row(staff, _branch_codes(session))
    credential_ended(rt, staff_id=row["id"])
    return row


def enable_staff(rt: Runtime, who: int | str, by: ByWhom) -> dict[str, Any]:
    """Let a disabled account log in again (with its password; its old log-ins stay ended)."""
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        staff = _find_staff(session, who)
        if staff.active:
            raise Conflict(f"{staff.username!r} is already active", code="already_active")
        staff.active = True
        _audit(session, by, now, "staff_enabled", staff)
        uow.commit()
        return _staff_row(staff, _branch_codes(session))


def reset_password(rt: Runtime, who: int | str, by: ByWhom, password: str | None = None) -> tuple[dict[str, Any], str]:
    """Give an account a new password and end every log-in of it. Without ``password`` the server
    generates a strong one (:func:`generate_password`), returned here to be shown once and never
    stored in clear; one given must pass the policy (422 ``weak_password``). Returns ``(account, password)``."""
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        staff = _find_staff(session, who)
        generated = password is None
        new = generate_password(staff.username) if password is None else password
        problem = password_problem(new, staff.username)
        if problem is not None:
            raise Invalid(problem, code="weak_password")
        staff.password_hash = hash_password(new)  # an admin action: the lock is held for one hash, off the event loop
        ended = _end_log_ins(session, staff, now)
        _audit(session, by, now, "password_reset", staff, {"generated": generated, "log_ins_ended": ended})
        uow.commit()
        row = _staff_row(staff, _branch_codes(session))
    credential_ended(rt, staff_id=row["id"])
    return row, new


def set_role(rt: Runtime, who: int | str, role: str, by: ByWhom, branch_code: str | None = None) -> dict[str, Any]:
    """Change an account's role, ending its log-ins (what it may hear and do changes with the role).
    Branch rules as :func:`save_staff`: admins belong to every branch; tellers and managers to the
    branch named, else the one they had, else the config's. 422 ``unknown_role``; 409 for the caller's
    own account or demoting the last active admin."""
    require_one_of(STAFF_ROLES, role, "role", "unknown_role")
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        staff = _find_staff(session, who)
        if role != "admin":
            if branch_code is not None:
                branch_id: int | None = _branch_id(session, branch_code)
            elif staff.branch_id is not None:
                branch_id = staff.branch_id
            else:
                branch_id = _branch_id(session, rt.config.branch.code)
        else:
            branch_id = None
        if role == staff.role and branch_id == staff.branch_id:
            raise Conflict(f"{staff.username!r} is already a {role} there", code="unchanged")
        if staff.role == "admin" and role != "admin":
            _refuse_losing_an_admin(session, staff, by, "demote")
        elif by.staff_id is not None and by.staff_id == staff.id:
            raise Conflict("you cannot change your own account's role; ask another admin", code="own_account")
        codes = _branch_codes(session)
        detail = {"role": [staff.role, role],
                  "branch": [codes.get(staff.branch_id) if staff.branch_id else None,
                             codes.get(branch_id) if branch_id else None]}
        staff.role = role
        staff.branch_id = branch_id
        detail["log_ins_ended"] = _end_log_ins(session, staff, now)
        _audit(session, by, now, "role_changed", staff, detail)
        uow.commit()
        row = _staff_row(staff, codes)
    credential_ended(rt, staff_id=row["id"])
    return row


def create_staff(rt: Runtime, username: str, role: str, by: ByWhom, *, display_name: str | None = None,
                 branch_code: str | None = None, password: str | None = None) -> tuple[dict[str, Any], str]:
    """Add an account (409 ``username_taken`` if it exists: the admin page never overwrites one).
    Without ``password`` one is generated, as for a reset. Returns ``(account, password)``."""
    require_one_of(STAFF_ROLES, role, "role", "unknown_role")
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise Invalid("a username is 1–64 letters, digits, '.', '_' or '-'", code="bad_username")
    if display_name is not None:
        _check_name(display_name, "name")
    generated = password is None
    new = generate_password(username) if password is None else password
    problem = password_problem(new, username)
    if problem is not None:
        raise Invalid(problem, code="weak_password")
    password_hash = hash_password(new)  # before the transaction: it holds the write lock
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        _one_change_at_a_time(session)
        branch_id = None if role == "admin" else _branch_id(session, branch_code or rt.config.branch.code)
        if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
            raise Conflict(f"there is already an account {username!r}", code="username_taken")
        staff = Staff(username=username, display_name=display_name or username, role=role, branch_id=branch_id,
                      password_hash=password_hash, active=True, created_at=rt.clock.now())
        session.add(staff)
        session.flush()
        _audit(session, by, now, "staff_added", staff, {"role": role, "generated_password": generated})
        uow.commit()
        return _staff_row(staff, _branch_codes(session)), new


def _find_device(session: Any, who: int | str, branch_code: str | None, default_code: str) -> Device:
    _one_change_at_a_time(session)
    device: Device | None
    if isinstance(who, int):
        device = session.scalar(select(Device).where(Device.id == who))
    else:
        branch_id = _branch_id(session, branch_code or default_code)
        device = session.scalar(select(Device).where(Device.branch_id == branch_id, Device.name == who))
    if device is None:
        raise NotFound(f"there is no device {who!r}", code="unknown_device")
    return device


def revoke_device(rt: Runtime, who: int | str, by: ByWhom, branch_code: str | None = None) -> dict[str, Any]:
    """Revoke a kiosk or display (by id, or by name in a branch): its token stops working at once (the
    caller then ends its open sockets). Adding it again gives it a new token. 409 if already revoked."""
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        device = _find_device(session, who, branch_code, rt.config.branch.code)
        if device.revoked_at is not None:
            raise Conflict(f"device {device.name!r} is already revoked", code="already_revoked")
        device.revoked_at = now
        _audit(session, by, now, "device_revoked", device, {"kind": device.kind})
        uow.commit()
        row = _device_row(device, _branch_codes(session))
    credential_ended(rt, device_id=row["id"])
    return row


def register_device(rt: Runtime, name: str, kind: str, by: ByWhom,
                    branch_code: str | None = None) -> tuple[dict[str, Any], str, bool]:
    """:func:`add_device` with its audit entry: returns ``(device, token, replaced)``; ``replaced``
    when the device existed, so its old token's sockets must end."""
    require_one_of(DEVICE_KINDS, kind, "device kind", "unknown_kind")
    if not name or len(name) > 64:
        raise Invalid("a device name is 1–64 characters", code="bad_name")
    _check_name(name, "device name")
    token = new_token()
    now = wall_now()
    with rt.uow() as uow:
        session = uow.session
        _one_change_at_a_time(session)
        branch_id = _branch_id(session, branch_code or rt.config.branch.code)
        device = session.scalar(select(Device).where(Device.branch_id == branch_id, Device.name == name))
        replaced = device is not None
        if device is None:
            device = Device(branch_id=branch_id, name=name, kind=kind, created_at=rt.clock.now())
            session.add(device)
        elif device.kind != kind:
            raise Conflict(f"device {name!r} exists and is a {device.kind}", code="device_kind_mismatch")
        device.token_hash = hash_token(token)
        device.revoked_at = None
        session.flush()
        _audit(session, by, now, "device_token_replaced" if replaced else "device_added", device, {"kind": kind})
        uow.commit()
        row = _device_row(device, _branch_codes(session))
    if replaced:
        credential_ended(rt, device_id=row["id"])
    return row, token, replaced


def _note_seen(rt: Runtime, model: type[Staff] | type[Device], row_id: int, seen: datetime | None,
               now: datetime) -> None:
    """Record when a staff member or device was last seen, at most once per ``LAST_SEEN_EVERY``: a
    write on every request would cost every request a write (issue 17 measures request cost). A tiny
    transaction of its own; a failure to write only loses the note, never the request. Tried at most
    once a minute per row in this process too, so a database that cannot be written (full, read-only,
    locked) does not make every request wait for its busy timeout."""
    if seen is not None and now - seen < LAST_SEEN_EVERY:
        return
    tried: dict[tuple[str, int], datetime] = rt.caches.setdefault("last_seen_tried", {})
    key = (model.__tablename__, row_id)
    if key in tried and timedelta(0) <= now - tried[key] < LAST_SEEN_EVERY:
        return
    tried[key] = now
    stale = now - LAST_SEEN_EVERY
    try:
        with rt.db.writing() as session:
            session.execute(
                update(model).where(model.id == row_id)
                .where(model.last_seen_at.is_(None) | (model.last_seen_at <= stale))
                .values(last_seen_at=now)
            )
            session.commit()
    except SQLAlchemyError as exc:
        log.warning("could not note when %s %s was last seen: %s", model.__tablename__, row_id, exc)


def audit_staff_saved(rt: Runtime, staff_id: int, created: bool, by: ByWhom) -> None:
    """The audit entry of ``staff add`` (:func:`save_staff`, which creates or updates an account and
    sets its password). Its own transaction just after save_staff's: that function is shared with the
    log-in work of the same issue and is left as it is."""
    now = wall_now()
    with rt.uow() as uow:
        staff = uow.session.get(Staff, staff_id)
        if staff is None:
            return
        _audit(uow.session, by, now, "staff_added" if created else "staff_updated", staff,
               {"role": staff.role, "password_set": True})
        uow.commit()
