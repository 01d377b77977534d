"""Rate limits: ticket issuing per kiosk (:class:`KioskLimit`, this module's own), log-in attempts
per client address, failed log-ins per account and the ticket holder's rating and cancel
(Flask-Limiter)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_qualified_name, get_remote_address
from limits import RateLimitItemPerMinute
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from server.errors import CallwiseError

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
log = logging.getLogger(__name__)

# The scope of the per-account log-in limit: the error handler answers its breach with its own code.
LOGIN_ACCOUNT_SCOPE = "login_account"
ACCOUNT_WINDOW_MINUTES = 15


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


# --- Ticket issue per kiosk (issue 17) ------------------------------------------------------------------


class Throttled(TooManyRequests):
    """429 ``rate_limited`` with ``Retry-After`` (server/api/errors.py), from :class:`KioskLimit`."""

    def __init__(self, description: str, retry_after_s: float) -> None:
        super().__init__(description)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


View = TypeVar("View", bound=Callable[..., Any])
LIMITED_VIEWS: set[str] = set()  # views under this module's own limits (the OpenAPI document says 429)
RETRY_STORAGE_S = 30.0  # after a shared storage failed, count in memory this long before trying it again
WINDOW_S = 60.0


class KioskLimit:
    """``[limits] kiosk_tickets_per_minute`` for ``POST /tickets``: one budget per kiosk device, and
    one per client address for anyone else (staff at the lobby desk, a refused token), in fixed
    one-minute windows that begin at a budget's first ticket (Flask-Limiter's fixed window, as before).
    A refused request takes no number.

    Why not Flask-Limiter's decorator, as for the log-in: per ticket, its decorator evaluated its
    limits' filters, exemptions and context, its memory storage started a timer thread to expire keys,
    and its after-request hook read the window again for the X-RateLimit headers (which kiosk answers
    no longer carry): an issue request with its own transaction stubbed out took 380 us with it and
    290 us with this, in-process on SQLite, the token already cached (issue 17). Here a ticket costs
    one count: in a dictionary of this process with ``[server] rate_limit_storage =
    "memory://"`` (one process, as before: that storage is per process), or, with a shared storage
    (``redis://...``, several processes spend one budget, as before), one increment in it through
    Flask-Limiter's own storage object and the ``limits`` library's fixed window. A shared storage
    that fails is counted around in memory for ``RETRY_STORAGE_S`` (Flask-Limiter's in-memory
    fallback did the same), with a warning, rather than refusing customers.
    """

    def __init__(self, per_minute: int, storage_uri: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.item = RateLimitItemPerMinute(per_minute)
        self.shared = None if storage_uri.startswith("memory://") else FixedWindowRateLimiter(limiter.storage)
        self.monotonic = monotonic
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window began, tickets in it)
        self._lock = threading.Lock()
        self._storage_failed_at: float | None = None

    def spend(self, key: str) -> None:
        """Count one ticket against ``key``'s budget; :class:`Throttled` past it."""
        if self.shared is not None and self._storage_usable():
            try:
                if self.shared.hit(self.item, "kiosk", key):
                    return
                reset = self.shared.get_window_stats(self.item, "kiosk", key).reset_time
                raise Throttled(self._refusal(), reset - time.time())
            except Throttled:
                raise
            except Exception as exc:  # noqa: BLE001 - the storage's own errors (redis) are not known here
                log.warning("rate limit storage unreachable, counting in memory for %.0f s: %s", RETRY_STORAGE_S, exc)
                self._storage_failed_at = self.monotonic()
        self._spend_here(key)

    def _storage_usable(self) -> bool:
        failed = self._storage_failed_at
        return failed is None or self.monotonic() - failed >= RETRY_STORAGE_S

    def _spend_here(self, key: str) -> None:
        now = self.monotonic()
        with self._lock:
            began, count = self._windows.get(key, (now, 0))
            if now - began >= WINDOW_S:
                began, count = now, 0
            self._windows[key] = (began, count + 1)
            if len(self._windows) > 10_000:  # addresses come and go: keep only the windows still open
                self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW_S}
        if count + 1 > self.per_minute:
            raise Throttled(self._refusal(), WINDOW_S - (now - began))

    def _refusal(self) -> str:
        return f"too many requests ({self.per_minute} per 1 minute); try again shortly"


def kiosk_limit(rt: Any) -> KioskLimit:
    """The runtime's :class:`KioskLimit` (made at first use, from its config)."""
    kept: KioskLimit | None = rt.caches.get("kiosk_limit")
    if kept is None:
        made = KioskLimit(rt.config.limits.kiosk_tickets_per_minute, rt.config.server.rate_limit_storage)
        kept = rt.caches.setdefault("kiosk_limit", made)
    return kept


def kiosk_limited(view: View) -> View:
    """Spend the caller's :class:`KioskLimit` budget before ``view`` runs. The caller is resolved
    here once (the view finds it in flask.g); a bad token is counted against its address, then
    refused by the view's own check (401)."""
    from server.api.common import current_actor, runtime

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        try:
            actor = current_actor()
        except CallwiseError:
            actor = None
        key = f"device:{actor.id}" if actor is not None and actor.kind == "device" else f"addr:{get_remote_address()}"
        kiosk_limit(runtime()).spend(key)
        return view(*args, **kwargs)

    LIMITED_VIEWS.add(get_qualified_name(view))
    return limited  # type: ignore[return-value]
