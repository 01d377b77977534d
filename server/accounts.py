"""Staff accounts, log-ins and device tokens.

Passwords are hashed with werkzeug's scrypt. Log-in and device tokens are 256-bit random strings of
which only the SHA-256 is stored, so a copy of the database does not let anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, select

from server.actors import DEVICE_KINDS, STAFF_ROLES, Actor
from server.clock import wall_now
from server.errors import Conflict, Invalid, NotFound, Unauthorized, require_one_of
from server.models import AuthToken, Branch, Device, Staff
from server.passwords import check_password, hash_password, password_problem
from server.runtime import Runtime


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
        if device is None:
            device = Device(branch_id=branch_id, name=name, created_at=now)
            session.add(device)
        elif device.kind != kind:
            raise Conflict(f"device {name!r} exists and is a {device.kind}", code="device_kind_mismatch")
        device.kind = kind
        device.token_hash = hash_token(token)
        device.revoked_at = None
        uow.commit()
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


def logout(rt: Runtime, token: str) -> None:
    now = wall_now()
    with rt.uow() as uow:
        row = uow.session.scalar(select(AuthToken).where(AuthToken.token_hash == hash_token(token)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now
        uow.commit()


def staff_view(staff: Staff) -> dict[str, Any]:
    return {"id": staff.id, "username": staff.username, "name": staff.display_name, "role": staff.role}


def resolve(rt: Runtime, token: str) -> Actor | None:
    """The staff member or device a bearer token belongs to, or None."""
    if not token or len(token) > 128:
        return None
    digest = hash_token(token)
    now = wall_now()
    staff_q, device_q = _resolve_statements()
    with rt.reading() as session:
        db = session.connection()
        staff = db.execute(staff_q, {"digest": digest}).first()
        if staff is not None:
            if staff.revoked_at is not None or not staff.active or _expired(staff.expires_at, now):
                return None
            return Actor(kind="staff", id=staff.id, role=staff.role, branch_id=staff.branch_id,
                         name=staff.display_name, token_id=staff.token_id)
        device = db.execute(device_q, {"digest": digest}).first()
        if device is not None:
            return Actor(kind="device", id=device.id, role=device.kind, branch_id=device.branch_id, name=device.name)
    return None


@cache
def _resolve_statements() -> tuple[Any, Any]:
    """Every authenticated request resolves its token: plain rows, statements built once."""
    digest = bindparam("digest", type_=String())
    return (
        select(AuthToken.id.label("token_id"), AuthToken.revoked_at, AuthToken.expires_at, Staff.id, Staff.role,
               Staff.branch_id, Staff.display_name, Staff.active)
        .join(Staff, Staff.id == AuthToken.staff_id).where(AuthToken.token_hash == digest),
        select(Device.id, Device.kind, Device.branch_id, Device.name)
        .where(Device.token_hash == digest, Device.revoked_at.is_(None)),
    )


def _expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now
