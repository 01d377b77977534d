"""Accounts and devices for admins (API.md "v2 additions: Accounts and devices"; issue 16, finding 3):
list, add, disable, enable, reset a password, change a role, revoke a device, read the audit log.

Each change is one service call in server/accounts.py (which writes its audit entry in the same
transaction); once it is committed, the view ends the open sockets of the credential it ended.
Answers that carry a secret (a new password, a device token) are ``Cache-Control: no-store``.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select

from server import accounts
from server.actors import Actor
from server.api import bp
from server.api.common import DisplayName, StrictBody, parse_body, parse_whole_number, require_staff, runtime
from server.api.converters import MAX_ROW_ID
from server.models import Staff
from server.passwords import MAX_LENGTH
from server.qr import qr_svg
from server.realtime import end_sockets

AUDIT_PAGE_MAX = 500


class StaffAddBody(StrictBody):
    username: str = Field(min_length=1, max_length=64)
    name: DisplayName | None = None
    role: Literal["teller", "manager", "admin"]
    branch: str | None = Field(default=None, min_length=1, max_length=32,
                               description="branch code for a teller or manager (default: the config's)")
    password: str | None = Field(default=None, min_length=1, max_length=MAX_LENGTH,
                                 description="omit to have the server generate a strong one, shown once")


class PasswordBody(StrictBody):
    password: str | None = Field(default=None, min_length=1, max_length=MAX_LENGTH,
                                 description="omit to have the server generate a strong one, shown once")


class RoleBody(StrictBody):
    role: Literal["teller", "manager", "admin"]
    branch: str | None = Field(default=None, min_length=1, max_length=32,
                               description="for a teller or manager: the branch (default: theirs, else the config's)")


class DeviceAddBody(StrictBody):
    name: Annotated[DisplayName, Field(max_length=64)]
    kind: Literal["kiosk", "display"]
    branch: str | None = Field(default=None, min_length=1, max_length=32,
                               description="branch code (default: the config's)")


def _admin() -> tuple[Actor, accounts.ByWhom]:
    """The caller, who must be an admin, and how the audit log names them."""
    actor = require_staff("admin")
    with runtime().reading() as db:
        username = db.scalar(select(Staff.username).where(Staff.id == actor.id)) or actor.name
    return actor, accounts.ByWhom.admin(actor, username)


def _secret(payload: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    """An answer that carries a password or token. Like every /api/ answer that does not say
    otherwise, it goes out ``Cache-Control: no-store`` (server/pages.py), never kept by a cache."""
    return jsonify(payload), status


def _branch_filter() -> str | None:
    code = request.args.get("branch")
    return code or None


@bp.get("/admin/staff")
def admin_list_staff() -> ResponseReturnValue:
    """Every staff account (``?branch=CODE``: that branch's and the admins) with role, branch, state
    and last seen. Admins only."""
    _admin()
    return jsonify(accounts.list_staff(runtime(), _branch_filter()))


@bp.post("/admin/staff")
def admin_add_staff() -> ResponseReturnValue:
    """Add an account; without a password the server generates one, answered once. 409 if the
    username exists, 422 for a weak password or bad username."""
    _actor, by = _admin()
    body = parse_body(StaffAddBody)
    staff, password = accounts.create_staff(runtime(), body.username, body.role, by, display_name=body.name,
                                            branch_code=body.branch, password=body.password)
    return _secret({"staff": staff, "password": password if body.password is None else None}, 201)


@bp.post("/admin/staff/<id:staff_id>/disable")
def admin_disable_staff(staff_id: int) -> ResponseReturnValue:
    """Disable an account: no more log-ins; its tokens and open sockets end at once. 409 for your own
    account, the last active admin, or one already disabled."""
    _actor, by = _admin()
    rt = runtime()
    staff = accounts.disable_staff(rt, staff_id, by)
    end_sockets(rt, staff_id=staff_id)
    return jsonify(staff)


@bp.post("/admin/staff/<id:staff_id>/enable")
def admin_enable_staff(staff_id: int) -> ResponseReturnValue:
    """Let a disabled account log in again. 409 if it is active."""
    _actor, by = _admin()
    return jsonify(accounts.enable_staff(runtime(), staff_id, by))


@bp.post("/admin/staff/<id:staff_id>/password")
def admin_reset_password(staff_id: int) -> ResponseReturnValue:
    """Set a new password (generated unless one is given, answered once); every log-in of the
    account ends, with its sockets."""
    _actor, by = _admin()
    body = parse_body(PasswordBody)
    rt = runtime()
    staff, password = accounts.reset_password(rt, staff_id, by, body.password)
    end_sockets(rt, staff_id=staff_id)
    return _secret({"staff": staff, "password": password if body.password is None else None})


@bp.post("/admin/staff/<id:staff_id>/role")
def admin_set_role(staff_id: int) -> ResponseReturnValue:
    """Change the role (and, for a teller or manager, the branch); its log-ins end, with their
    sockets. 409 for your own account or the last active admin."""
    _actor, by = _admin()
    body = parse_body(RoleBody)
    rt = runtime()
    staff = accounts.set_role(rt, staff_id, body.role, by, body.branch)
    end_sockets(rt, staff_id=staff_id)
    return jsonify(staff)


@bp.get("/admin/devices")
def admin_list_devices() -> ResponseReturnValue:
    """Every kiosk and display (``?branch=CODE``: of that branch) with state and last seen."""
    _admin()
    return jsonify(accounts.list_devices(runtime(), _branch_filter()))


@bp.post("/admin/devices")
def admin_add_device() -> ResponseReturnValue:
    """Register a device, or give an existing one a new token (its old token and sockets end). The
    token is answered once, with the pairing URL and its QR code (SVG, as a data: URL)."""
    _actor, by = _admin()
    body = parse_body(DeviceAddBody)
    rt = runtime()
    device, token, replaced = accounts.register_device(rt, body.name, body.kind, by, body.branch)
    if replaced:
        end_sockets(rt, device_id=device["id"])
    url = f"{rt.config.server.public_url.rstrip('/')}/{body.kind}?device={token}"
    svg = base64.b64encode(qr_svg(url)).decode("ascii")
    return _secret({"device": device, "token": token, "pairing_url": url, "replaced": replaced,
                    "qr_svg": f"data:image/svg+xml;base64,{svg}"}, 201)


@bp.post("/admin/devices/<id:device_id>/revoke")
def admin_revoke_device(device_id: int) -> ResponseReturnValue:
    """Revoke a device: its token stops working and its open sockets end at once. 409 if revoked."""
    _actor, by = _admin()
    rt = runtime()
    device = accounts.revoke_device(rt, device_id, by)
    end_sockets(rt, device_id=device_id)
    return jsonify(device)


@bp.get("/admin/audit")
def admin_audit() -> ResponseReturnValue:
    """The audit log, newest first: ``?limit=`` (1-500, default 100) entries, older than the entry
    ``?before=ID`` when given (the last id of the page before)."""
    _admin()
    # An empty ?limit= or ?before= (a form left blank) means the default.
    limit = parse_whole_number(request.args.get("limit") or None, "limit", 1, AUDIT_PAGE_MAX, 100) or 100
    before = parse_whole_number(request.args.get("before") or None, "before", 1, MAX_ROW_ID, None)
    return jsonify(accounts.list_audit(runtime(), limit, before))

