"""Staff log-in and log-out."""

from __future__ import annotations

from flask import current_app, jsonify, request, session
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select

from server import accounts
from server.api import bp
from server.api.common import StrictBody, current_actor, parse_body, require_staff, runtime
from server.errors import Unauthorized
from server.limits import (
    LOGIN_ACCOUNT_SCOPE,
    account_throttled,
    failed_login,
    limiter,
    login_account_key,
    login_account_rate,
    login_rate,
)
from server.models import Counter
from server.passwords import MAX_LENGTH
from server.realtime import end_sockets


class LoginBody(StrictBody):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)  # every password staff add accepts


@bp.post("/auth/login")
@limiter.limit(login_rate)
@limiter.limit(login_account_rate, key_func=login_account_key, deduct_when=failed_login, on_breach=account_throttled,
               scope=LOGIN_ACCOUNT_SCOPE)
def login() -> ResponseReturnValue:
    """Log in. Sets the session cookie and returns a bearer token plus the CSRF token that
    cookie-authenticated changes must send as ``X-CSRF-Token``. 401 on a wrong name or password;
    429 ``rate_limited`` past the attempts per address, 429 ``login_throttled`` past the failed
    log-ins per account (server/limits.py), both with ``Retry-After``.

    The cookie is a browser-session cookie (no ``Expires``): closing the browser forgets it, as the
    sign-in screens say. The token inside still expires after ``token_lifetime_hours`` on the server
    (and Flask's signature check refuses a cookie older than that), so a browser kept open does not
    stay signed in for ever."""
    body = parse_body(LoginBody)
    result = accounts.login(runtime(), body.username, body.password)
    session.clear()
    session["token"] = result["token"]
    session.permanent = False
    result["csrf_token"] = accounts.csrf_token_for(current_app.secret_key or "", result["token"])
    return jsonify(result)


@bp.post("/auth/logout")
def logout() -> ResponseReturnValue:
    """End the caller's log-in (the token stops working at once)."""
    actor = require_staff()
    token = session.get("token")
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    if token:
        token_id = accounts.logout(runtime(), token)
        if token_id is not None:
            end_sockets(runtime(), token_id=token_id)  # its live connections end now, not at the next check
    session.clear()
    return jsonify({"logged_out": actor.name})


@bp.get("/auth/me")
def me() -> ResponseReturnValue:
    """Who the caller is: staff (with the counter they are signed in at, and the CSRF token for a
    cookie session) or a device."""
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthorized("not logged in", code="login_required")
    out = {"kind": actor.kind, "id": actor.id, "role": actor.role, "name": actor.name, "counter": None}
    if actor.is_staff:
        with runtime().reading() as db:
            out["counter"] = db.scalar(select(Counter.number).where(Counter.staff_id == actor.id))
        if session.get("token"):
            out["csrf_token"] = accounts.csrf_token_for(current_app.secret_key or "", session["token"])
    return jsonify(out)
