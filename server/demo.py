"""Demo accounts for ``[server] mode = "demo"`` — never created in production mode, which refuses to
start while any is left (issue 16, finding 4).

Passwords and device tokens are random, generated on the first start and kept in
instance/demo-credentials.json (readable by its owner only) so that later starts print the same
log-ins and a paired kiosk or display stays paired. Every account and device made here is marked
``demo``; ``python -m server demo-accounts remove`` disables them for good and deletes the files.

Several demo processes may start at once (on one SQLite file with a message queue, or on
PostgreSQL): a file lock beside the credentials file makes them take turns, so the first makes the
accounts and the others find them, and all print the same log-ins.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from server.accounts import add_device, credential_ended, hash_token, new_token, save_staff
from server.bootstrap import instance_dir, private_folder
from server.clock import wall_now
from server.models import AuditEntry, AuthToken, Device, Staff
from server.passwords import check_password, hash_password, password_problem
from server.runtime import Runtime
from server.startup import StartupError

DEMO_STAFF = [
    ("teller1", "teller", "柜员一 Teller One"),
    ("teller2", "teller", "柜员二 Teller Two"),
    ("teller3", "teller", "柜员三 Teller Three"),
    ("manager", "manager", "大堂经理 Lobby Manager"),
    ("admin", "admin", "管理员 Branch Admin"),
]
DEMO_DEVICES = [("kiosk-1", "kiosk"), ("display-1", "display")]
CREDENTIAL_FILES = ("demo-credentials.json", "demo-day-credentials.json")
REMOVE_COMMAND = "python -m server demo-accounts remove"
# A database made before migration 0008 has demo devices without the mark: those named as demo mode
# names them, made within this long of a demo staff account, are taken for demo mode's.
LEGACY_DEVICE_WINDOW = timedelta(minutes=10)


def ensure_demo_accounts(rt: Runtime, filename: str = "demo-credentials.json") -> dict[str, Any]:
    """Create (or repair) the demo staff and devices; return their log-ins and tokens (kept in
    instance/``filename``: one file per database, since a device's token cannot be chosen)."""
    if rt.config.server.mode != "demo":
        raise RuntimeError("demo accounts are only created in demo mode")
    path = instance_dir(rt.config) / filename
    with _taking_turns(path):
        saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        staff: dict[str, str] = dict(saved.get("staff", {}))
        devices: dict[str, str] = dict(saved.get("devices", {}))
        with rt.reading() as session:
            existing_staff = {s.username for s in session.scalars(select(Staff))}
            device_hashes = {d.name: d.token_hash for d in session.scalars(select(Device))}
        for username, role, name in DEMO_STAFF:
            if username not in staff or username not in existing_staff:
                staff[username] = _new_password(username)
                save_staff(rt, username, role, staff[username], display_name=name)
        for name, kind in DEMO_DEVICES:
            if name not in devices or device_hashes.get(name) != hash_token(devices[name]):
                devices[name] = add_device(rt, name, kind)
        with rt.uow() as uow:  # marked, so that production refuses to start while they exist
            uow.session.execute(update(Staff).where(Staff.username.in_([u for u, *_ in DEMO_STAFF]))
                                .values(demo=True))
            uow.session.execute(update(Device).where(Device.token_hash.in_([hash_token(t) for t in devices.values()]))
                                .values(demo=True))
            uow.commit()
        _write_private(path, {"staff": staff, "devices": devices})
    return {"staff": staff, "devices": devices, "file": filename}


@contextmanager
def _taking_turns(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` while demo accounts are made: processes starting at once
    wait for each other instead of racing to insert the same usernames."""
    private_folder(path.parent)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _new_password(username: str) -> str:
    """A random password (72 bits) that the password policy accepts: a random one fails it next to
    never (by containing the username, say), and then another is drawn."""
    while True:
        password = secrets.token_urlsafe(9)
        if password_problem(password, username) is None:
            return password


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Written whole under a name of this process, then renamed: a reader sees the old file or the new."""
    private_folder(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


# --- Production and the demo accounts left behind (issue 16, finding 4) -------------------------------


def demo_leftovers(rt: Runtime) -> dict[str, list[str]]:
    """The demo accounts and devices that still work: ``{"staff": [usernames], "devices": [names]}``.

    Rows marked ``demo`` count while the account is active or the device not revoked. A database made
    before the mark existed (migration 0008) gets its demo rows marked here first (see
    :func:`mark_unmarked_demo_accounts`).
    """
    mark_unmarked_demo_accounts(rt)
    with rt.reading() as session:
        staff = list(session.scalars(select(Staff.username).where(Staff.demo, Staff.active).order_by(Staff.username)))
        devices = list(session.scalars(select(Device.name).where(Device.demo, Device.revoked_at.is_(None))
                                       .order_by(Device.name)))
    return {"staff": staff, "devices": devices}


def refuse_demo_leftovers(rt: Runtime, config_path: str | None = None) -> None:
    """Production mode does not start while demo log-ins work: :class:`StartupError` naming them and
    the command that removes them."""
    left = demo_leftovers(rt)
    names = left["staff"] + left["devices"]
    if not names:
        return
    source = config_path or rt.config.source
    config = f" --config {source}" if source not in ("<memory>", "") else ""
    raise StartupError(
        f"production mode: demo mode's accounts and devices still work ({', '.join(names)}) and their "
        f"log-ins are in instance/; remove them first with: {REMOVE_COMMAND}{config}")


def mark_unmarked_demo_accounts(rt: Runtime) -> int:
    """Mark demo mode's accounts in a database made before migration 0008 added the mark; returns how
    many rows were marked. Recognised as demo mode's:

    - a staff account whose username and display name are both demo mode's (``teller1`` shown as
      "柜员一 Teller One", ...: a name nobody else gives an account), or whose password is the one in
      a demo credentials file still in instance/;
    - a device whose token is the one in such a file, or, the file gone, named as demo mode names its
      devices (``kiosk-1``, ``display-1``) of the same kind and made within ten minutes of a demo
      staff account.
    """
    saved_staff: dict[str, str] = {}
    saved_tokens: set[str] = set()
    folder = instance_dir(rt.config)
    for filename in CREDENTIAL_FILES:
        try:
            saved = json.loads((folder / filename).read_text())
        except (OSError, ValueError):
            continue
        saved_staff.update(saved.get("staff", {}))
        saved_tokens.update(hash_token(token) for token in saved.get("devices", {}).values())
    demo_names = {username: name for username, _, name in DEMO_STAFF}
    demo_kinds = dict(DEMO_DEVICES)
    with rt.reading() as session:
        candidates = list(session.execute(
            select(Staff.id, Staff.username, Staff.display_name, Staff.password_hash, Staff.created_at)
            .where(Staff.demo.is_(False), Staff.active, Staff.username.in_(list(demo_names)))))
        devices = list(session.execute(
            select(Device.id, Device.name, Device.kind, Device.token_hash, Device.created_at)
            .where(Device.demo.is_(False), Device.revoked_at.is_(None))))
        marked_at = list(session.scalars(select(Staff.created_at).where(Staff.demo)))
    staff_ids = []
    for row in candidates:
        if row.display_name == demo_names[row.username] or (
                row.username in saved_staff and check_password(row.password_hash, saved_staff[row.username])):
            staff_ids.append(row.id)
            marked_at.append(row.created_at)
    device_ids = [row.id for row in devices if row.token_hash in saved_tokens or (
        demo_kinds.get(row.name) == row.kind
        and any(abs(row.created_at - at) <= LEGACY_DEVICE_WINDOW for at in marked_at))]
    if not staff_ids and not device_ids:
        return 0
    with rt.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id.in_(staff_ids)).values(demo=True))
        uow.session.execute(update(Device).where(Device.id.in_(device_ids)).values(demo=True))
        uow.commit()
    return len(staff_ids) + len(device_ids)


def remove_demo_accounts(rt: Runtime) -> dict[str, Any]:
    """End demo mode's accounts and devices for good and delete the demo credentials files.

    Rows are kept, not deleted: tickets, events and the audit log refer to them. A staff account is
    disabled, its log-ins revoked, its password replaced by a random one nobody knows, and it is
    renamed ``demo-removed-<id>-<username>`` so the name is free for a real account; a device is
    revoked, given an unknown token and renamed the same way. Returns what was removed and the files
    deleted.
    """
    mark_unmarked_demo_accounts(rt)
    now = rt.clock.now()
    unknown_hash = hash_password(secrets.token_urlsafe(32))
    removed: dict[str, Any] = {"staff": [], "devices": [], "files": []}
    ended: list[dict[str, int]] = []  # for credential_ended, once committed
    by = _command_line_user()

    def audit(action: str, kind: str, name: str, branch_id: int | None, renamed: str) -> None:
        session.add(AuditEntry(at=now, via="cli", actor_staff_id=None, actor_name=by, action=action,
                               target_kind=kind, target_name=name, branch_id=branch_id,
                               detail={"demo_accounts_removed": True, "renamed_to": renamed}))

    with rt.uow() as uow:
        session = uow.session
        for staff in session.scalars(select(Staff).where(Staff.demo, Staff.active).order_by(Staff.username)):
            removed["staff"].append(staff.username)
            renamed = f"demo-removed-{staff.id}-{staff.username}"[:64]
            audit("staff_disabled", "staff", staff.username, staff.branch_id, renamed)
            staff.active = False
            staff.password_hash = unknown_hash
            staff.username = renamed
            ended.append({"staff_id": staff.id})
            session.execute(update(AuthToken).where(AuthToken.staff_id == staff.id, AuthToken.revoked_at.is_(None))
                            .values(revoked_at=wall_now()))
        devices = select(Device).where(Device.demo, Device.revoked_at.is_(None)).order_by(Device.name)
        for device in session.scalars(devices):
            removed["devices"].append(device.name)
            renamed = f"demo-removed-{device.id}-{device.name}"[:64]
            audit("device_revoked", "device", device.name, device.branch_id, renamed)
            device.revoked_at = now
            device.token_hash = hash_token(new_token())
            device.name = renamed
            ended.append({"device_id": device.id})
        uow.commit()
    for credential in ended:  # the servers' cached tokens (server/accounts.py TokenCache)
        credential_ended(rt, **credential)
    folder = instance_dir(rt.config)
    for filename in CREDENTIAL_FILES:
        for path in (folder / filename, folder / (filename + ".lock")):
            if path.exists():
                path.unlink()
                if path.suffix == ".json":
                    removed["files"].append(str(path))
    return removed


def _command_line_user() -> str:
    """Who runs the command, for the audit log: the OS user's name (or uid in a bare container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def banner(rt: Runtime, credentials: dict[str, Any] | None, base_url: str) -> str:
    """What ``serve`` prints: the pages and, in demo mode, the log-ins."""
    lines = [f"Callwise is serving branch {rt.config.branch.code!r} at {base_url}/"]
    if credentials is None:
        lines += [
            f"  Kiosk:    {base_url}/kiosk?device=<kiosk token>",
            f"  Counter:  {base_url}/counter",
            f"  Display:  {base_url}/display?device=<display token>",
            f"  Manager:  {base_url}/manager",
            f"  Admin:    {base_url}/admin        accounts, devices and the audit log",
        ]
        return "\n".join(lines)
    devices = credentials["devices"]
    staff = credentials["staff"]
    tellers = ", ".join(f"{u} / {staff[u]}" for u, role, _ in DEMO_STAFF if role == "teller")
    lines += [
        f"  Kiosk:    {base_url}/kiosk?device={devices['kiosk-1']}",
        f"  Counter:  {base_url}/counter      tellers: {tellers}",
        f"  Display:  {base_url}/display?device={devices['display-1']}",
        f"  Manager:  {base_url}/manager      manager / {staff['manager']}",
        f"  Admin:    {base_url}/admin        admin / {staff['admin']}",
        f"  (demo mode: these log-ins are kept in instance/{credentials.get('file', 'demo-credentials.json')})",
    ]
    return "\n".join(lines)
