"""Demo accounts for ``[server] mode = "demo"`` — never created in production mode.

Passwords and device tokens are random, generated on the first start and kept in
instance/demo-credentials.json (readable by its owner only) so that later starts print the same
log-ins and a paired kiosk or display stays paired.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.accounts import add_device, hash_token, save_staff
from server.bootstrap import instance_dir
from server.models import Device, Staff
from server.passwords import password_problem
from server.runtime import Runtime

DEMO_STAFF = [
    ("teller1", "teller", "柜员一 Teller One"),
    ("teller2", "teller", "柜员二 Teller Two"),
    ("teller3", "teller", "柜员三 Teller Three"),
    ("manager", "manager", "大堂经理 Lobby Manager"),
    ("admin", "admin", "管理员 Branch Admin"),
]
DEMO_DEVICES = [("kiosk-1", "kiosk"), ("display-1", "display")]


def ensure_demo_accounts(rt: Runtime, filename: str = "demo-credentials.json") -> dict[str, Any]:
    """Create (or repair) the demo staff and devices; return their log-ins and tokens (kept in
    instance/``filename``: one file per database, since a device's token cannot be chosen)."""
    if rt.config.server.mode != "demo":
        raise RuntimeError("demo accounts are only created in demo mode")
    path = instance_dir(rt.config) / filename
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
    _write_private(path, {"staff": staff, "devices": devices})
    return {"staff": staff, "devices": devices, "file": filename}


def _new_password(username: str) -> str:
    """A random password (72 bits) that the password policy accepts: a random one fails it next to
    never (by containing the username, say), and then another is drawn."""
    while True:
        password = secrets.token_urlsafe(9)
        if password_problem(password, username) is None:
            return password


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.replace(temporary, path)


def banner(rt: Runtime, credentials: dict[str, Any] | None, base_url: str) -> str:
    """What ``serve`` prints: the pages and, in demo mode, the log-ins."""
    lines = [f"Callwise is serving branch {rt.config.branch.code!r} at {base_url}/"]
    if credentials is None:
        lines += [
            f"  Kiosk:    {base_url}/kiosk?device=<kiosk token>",
            f"  Counter:  {base_url}/counter",
            f"  Display:  {base_url}/display?device=<display token>",
            f"  Manager:  {base_url}/manager",
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
        f"  Admin:    admin / {staff['admin']}",
        f"  (demo mode: these log-ins are kept in instance/{credentials.get('file', 'demo-credentials.json')})",
    ]
    return "\n".join(lines)
