"""Rate limits (Flask-Limiter): ticket issuing per kiosk, log-in attempts per client address and
failed log-ins per account."""

from __future__ import annotations

import json
import logging

from flask import Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
log = logging.getLogger(__name__)

# The scope of the per-account log-in limit: the error handler answers its breach with its own code.
LOGIN_ACCOUNT_SCOPE = "login_account"
ACCOUNT_WINDOW_MINUTES = 15


def kiosk_rate() -> str:
    return f"{current_app.extensions['callwise'].config.limits.kiosk_tickets_per_minute}/minute"


def login_rate() -> str:
    return f"{current_app.extensions['callwise'].config.limits.login_attempts_per_minute}/minute"


def login_account_rate() -> str:
    """Failed log-ins one account may take per quarter hour, whatever the addresses they come from.

    The per-address limit alone lets a botnet (or one attacker behind many addresses) guess one
    account's password at the per-address rate times the addresses. Counting the failures per
    username caps that at the same small figure (10 per 15 minutes by default, about 1,000 a day,
    against passwords the policy has already stripped of the common ones).

    Why a slowing window rather than a lock-out after N failures: a lock-out is a denial of service
    anyone can trigger, since usernames are not secret; an attacker could keep the branch manager
    out all day with a few requests. Here the worst an attacker can do is keep the account's budget
    spent, which they must do again every window (and which is logged); a successful log-in does not
    count, and log-ins already made (open dashboards, their tokens) are untouched. A log-in refused
    for this answers 429 ``login_throttled`` with ``Retry-After``, even with the right password:
    otherwise the limit would tell the guesser which of its attempts was right.
    """
    per_window = current_app.extensions["callwise"].config.limits.login_failures_per_account_per_15_minutes
    return f"{per_window} per {ACCOUNT_WINDOW_MINUTES} minutes"


def login_account_key() -> str:
    """The username the log-in names (exactly: usernames are matched exactly), or one shared key for
    bodies that name none (they are refused anyway, 400/415/422, and never reach a password check)."""
    try:  # the view parses the body properly; here anything unreadable (even 30,000 nested '[') is no name
        body = json.loads(request.get_data(cache=True)) if request.is_json else None
    except (ValueError, RecursionError):
        body = None
    username = body.get("username") if isinstance(body, dict) else None
    if not isinstance(username, str):
        return "account:"
    return f"account:{username[:64]}"


def failed_login(response: Response) -> bool:
    """Only refused passwords spend an account's budget: its owner logging in on several screens,
    or a body refused before any password check, must not lock it."""
    return response.status_code == 401


def account_throttled(limit: RequestLimit) -> None:
    """Say so in the log each time a log-in is refused for its account's failures: someone is guessing
    that password, or keeping its owner out (the username is shown as repr, control characters escaped)."""
    log.warning("log-in for %r refused from %s: %d failed log-ins for it within %d minutes",
                login_account_key()[len("account:"):], get_remote_address(), limit.limit.amount,
                ACCOUNT_WINDOW_MINUTES)


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
