"""Rate limits (Flask-Limiter): ticket issuing per kiosk, log-in attempts per client address."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def kiosk_rate() -> str:
    return f"{current_app.extensions['callwise'].config.limits.kiosk_tickets_per_minute}/minute"


def login_rate() -> str:
    return f"{current_app.extensions['callwise'].config.limits.login_attempts_per_minute}/minute"


def kiosk_key() -> str:
    """One budget per kiosk device; unauthenticated callers share their address's budget."""
    from server.api.common import current_actor

    try:
        actor = current_actor()
    except Exception:  # a bad token is answered by the view itself; count it against the address
        return f"addr:{get_remote_address()}"
    if actor.kind == "device":
        return f"device:{actor.id}"
    return f"addr:{get_remote_address()}"
