"""Domain errors. The API maps each to the JSON error format in one handler (server/api/errors.py)."""

from __future__ import annotations

from collections.abc import Iterable


class CallwiseError(Exception):
    """Base: an HTTP status, a snake_case code and a human sentence."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Malformed(CallwiseError):
    status, code = 400, "malformed"


class UnsupportedMediaType(CallwiseError):
    status, code = 415, "unsupported_media_type"


class Unauthorized(CallwiseError):
    status, code = 401, "unauthorized"


class Forbidden(CallwiseError):
    status, code = 403, "forbidden"


class NotFound(CallwiseError):
    status, code = 404, "not_found"


class Conflict(CallwiseError):
    status, code = 409, "conflict"


class Invalid(CallwiseError):
    status, code = 422, "invalid"


class Unavailable(CallwiseError):
    status, code = 503, "database_unavailable"


def require_one_of(known: Iterable[str], value: str, what: str, code: str) -> None:
    """:class:`Invalid` (``code``) unless ``value`` is one of ``known``, the message naming them."""
    choices = list(known)
    if value not in choices:
        raise Invalid(f"unknown {what} {value!r} (use {', '.join(choices)})", code=code)
