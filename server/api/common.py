"""What every endpoint needs: the runtime, the caller, the branch and a parsed body."""

from __future__ import annotations

import hmac
import json
import logging
import re
from datetime import date
from typing import Annotated, Any, TypeVar

from flask import current_app, g, request, session
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from server import accounts
from server.actors import ANONYMOUS, Actor
from server.branches import branch_for
from server.errors import Forbidden, Invalid, Malformed, Unauthorized, UnsupportedMediaType
from server.runtime import Runtime

Body = TypeVar("Body", bound=BaseModel)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
log = logging.getLogger(__name__)


class StrictBody(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error rather than silently ignored, and
    take values as they are typed: ``true`` or ``"60"`` is not a number (a whole number is a float)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# Characters no operator or customer text may hold: C0 controls (but newline and tab where a text may
# have several lines), DEL and the C1 controls; the Unicode bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), which make a note read differently on screen from what it says
# ("Trojan Source"); and lone surrogates, which JSON can carry but no database can store.
_NEVER_IN_TEXT = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_BAD_LINE = re.compile(f"[{_NEVER_IN_TEXT}\t\n]")
_BAD_LINES = re.compile(f"[{_NEVER_IN_TEXT}]")


def _refuse(pattern: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found:
            raise PydanticCustomError(
                "bad_text", "the character U+{char} (at {at}) is not allowed here: no control or bidi-override "
                "characters", {"char": f"{ord(found.group()):04X}", "at": found.start()})
        return value

    return AfterValidator(check)


_LINES = _refuse(_BAD_LINES)
_LINE = _refuse(_BAD_LINE)
_RULES = "no control or bidi-override characters (422 bad_text)"
# The same rule as a JSON Schema pattern (ECMA-262), so that the OpenAPI document says it too and a
# generator of valid bodies (schemathesis) does not send what the server refuses. The validators
# above do the refusing: a ``pattern`` constraint would answer with a less helpful message.
_ALLOWED = "\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
_LINES_SCHEMA = {"pattern": f"^[^{_ALLOWED}]*$"}
_LINE_SCHEMA = {"pattern": f"^[^{_ALLOWED}\\t\\n]*$"}

# The free texts operators and customers write. Each field of a request body that carries one uses
# one of these types, so the limit (the database column's size) and the refused characters are the
# same everywhere and show in the OpenAPI document. Refused: 422 ``bad_text`` (characters) or
# ``invalid_field`` (length), and nothing is changed.
NOTE_MAX = 500
Note = Annotated[str, Field(max_length=NOTE_MAX, description=f"at most {NOTE_MAX} characters, several lines "
                                                             f"allowed; {_RULES}", json_schema_extra=_LINES_SCHEMA),
                 _LINES]
"""A note, an answer, a help request's word, an instruction, a rating's comment."""
COMPLAINT_MAX = 1000
ComplaintText = Annotated[str, Field(max_length=COMPLAINT_MAX,
                                     description=f"optional, at most {COMPLAINT_MAX} characters, several lines "
                                                 f"allowed; {_RULES}",
                                     json_schema_extra=_LINES_SCHEMA), _LINES]
LINE_MAX = 200
Line = Annotated[str, Field(max_length=LINE_MAX, description=f"one line of at most {LINE_MAX} characters; {_RULES}",
                            json_schema_extra=_LINE_SCHEMA), _LINE]
"""A short one-line text: a complaint's subject."""
DISPLAY_NAME_MAX = 128
DisplayName = Annotated[str, Field(min_length=1, max_length=DISPLAY_NAME_MAX,
                                   description=f"one line of 1 to {DISPLAY_NAME_MAX} characters; {_RULES}",
                                   json_schema_extra=_LINE_SCHEMA), _LINE]
"""A person's name as the screens show it (staff.display_name's size); for a device's name (64),
``Annotated[DisplayName, Field(max_length=64)]``."""


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["callwise"]
    return rt


def current_actor() -> Actor:
    """The caller: a bearer token (staff or device) first, then the staff session cookie.

    A request authenticated by cookie that changes something must carry the matching
    ``X-CSRF-Token`` header, so another site cannot make a logged-in browser act.
    """
    if "actor" in g:
        known: Actor = g.actor
        return known
    actor = ANONYMOUS
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", code="bad_authorization")
        found = accounts.resolve(runtime(), token.strip())
        if found is None:
            raise Unauthorized("the token is unknown, revoked or expired", code="bad_token")
        actor = found
    elif session.get("token"):
        found = accounts.resolve(runtime(), session["token"])
        if found is not None:
            if request.method not in SAFE_METHODS:
                expected = accounts.csrf_token_for(current_app.secret_key or "", session["token"])
                given = request.headers.get("X-CSRF-Token", "")
                if not hmac.compare_digest(expected, given):
                    raise Forbidden("missing or wrong X-CSRF-Token header", code="csrf_failed")
            actor = found
        else:
            session.pop("token", None)
    g.actor = actor
    return actor


def require_staff(*roles: str) -> Actor:
    """The caller, who must be staff (of one of ``roles`` when given)."""
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthorized("log in first", code="login_required")
    if not actor.is_staff:
        raise Forbidden("this is for staff", code="staff_only")
    if roles and actor.role not in roles and actor.role != "admin":
        raise Forbidden(f"this is for {' or '.join(roles)}s", code="wrong_role")
    return actor


def require_manager() -> Actor:
    return require_staff("manager")


def require_device(kind: str) -> Actor:
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthorized(f"a {kind} device token is needed", code="device_required")
    if not actor.is_device(kind):
        raise Forbidden(f"only a {kind} may do this", code=f"{kind}_only")
    return actor


def branch_id_for(actor: Actor) -> int:
    """The branch a request is about: ``?branch=CODE`` or the caller's own (see
    :func:`server.branches.branch_for`)."""
    return branch_for(runtime(), actor, request.args.get("branch"))


def require_json_content_type() -> None:
    """A request that sends a body must label it ``Content-Type: application/json`` (415 otherwise).

    A form on another site can post ``text/plain`` that happens to be JSON, without the preflight a
    JSON request needs: parsed regardless, it could log a browser in to an attacker's account.
    An empty body needs no type, so actions without parameters can be posted bare.
    """
    if request.method not in BODY_METHODS or request.is_json:
        return
    if request.get_data(cache=True).strip():
        raise UnsupportedMediaType("send the body as JSON with 'Content-Type: application/json'")


def parse_body(model: type[Body]) -> Body:
    """The JSON body validated against ``model``: 400 if it is not JSON, 422 if values are wrong.

    An empty body counts as ``{}`` so that actions without parameters need no body at all.
    """
    raw = request.get_data(cache=True)
    data = _json_object(raw) if raw.strip() else {}
    field = _field_with_nul(data)
    if field is not None:
        raise Invalid(f"{field}: NUL characters (U+0000) are not allowed", code="bad_text")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        code = "bad_text" if error["type"] == "bad_text" else "invalid_field"
        raise Invalid(f"{field}: {error['msg']}", code=code) from None


def _json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` parsed as a JSON object; :class:`Malformed` for anything else.

    Python's parser recurses once per nesting level, so 30,000 ``[`` (well under the size limit)
    exhaust the stack: that is a malformed body, logged in one line rather than as a traceback.
    ``NaN`` and ``Infinity`` are not JSON either, though Python's parser accepts them.
    """
    try:
        data = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        log.warning("refused a JSON body nested too deeply (%d bytes) on %s %s", len(raw), request.method,
                    request.path)
        raise Malformed("the request body is nested too deeply", code="malformed_json") from None
    except (ValueError, UnicodeDecodeError):
        raise Malformed("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise Malformed("the request body must be a JSON object", code="malformed_json")
    return data


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _field_with_nul(data: Any) -> str | None:
    """Where in ``data`` (a parsed body) a string or a key holds a NUL character ("\\u0000"), if anywhere.

    PostgreSQL cannot store NUL in text, so such a value would fail at the database (a 500) on one
    backend and be stored on the other; no field of the API has a use for it. A loop, not recursion:
    the body may be nested as deeply as the JSON parser allowed.
    """
    stack: list[tuple[str, Any]] = [("body", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                name = key if where == "body" else f"{where}.{key}"
                if "\x00" in key:
                    return name
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return None


def refuse_nul_characters() -> None:
    """400 ``nul_character`` for a NUL in the path, the query or a header (``%00``): it can name
    nothing, and PostgreSQL would refuse it as a 500 where SQLite looks it up (issue 16)."""
    if ("\x00" in request.path
            or any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True))
            or any("\x00" in value for value in request.headers.values())):
        raise Malformed("the request's address or headers contain a NUL character", code="nul_character")


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_whole_number(value: str | None, name: str, low: int, high: int, default: int | None) -> int | None:
    """A query parameter that is a whole number from ``low`` to ``high`` in ASCII digits (``int()``
    would also take " 5", "+5" and the full-width "５"), or ``default`` when absent;
    :class:`Invalid` ``bad_<name>`` otherwise."""
    if value is None:
        return default
    if len(value) > 19 or not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise Invalid(f"{name} is a whole number from {low} to {high}", code=f"bad_{name}")
    return int(value)


MAX_COMPLAINT_DAYS = 366  # a year of complaints in one list
MAX_REPORT_DAYS = 92  # a quarter in one range report: each day is a daily report computed afresh


def check_range(first: date, last: date, most: int) -> None:
    """A ``from``/``to`` range of at most ``most`` + 1 days; 422 ``bad_range`` otherwise."""
    if last < first:
        raise Invalid("'to' is before 'from'", code="bad_range")
    if (last - first).days > most:
        raise Invalid(f"at most {most} days at a time", code="bad_range")


def parse_day(value: str | None, today: date) -> date:
    """``YYYY-MM-DD`` (or today when absent); :class:`Invalid` otherwise."""
    if value is None or value == "":
        return today
    if not DATE.match(value):
        raise Invalid("date is YYYY-MM-DD, e.g. 2026-11-30", code="bad_date")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{value} is not a date of the calendar", code="bad_date") from None
    if not 1970 <= day.year <= 9998:
        raise Invalid("date is out of range", code="bad_date")
    return day
