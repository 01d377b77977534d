"""Every error as ``{"error": {"code", "message"}}``, never an HTML page and never a 500 for bad input."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from server.errors import CallwiseError
from server.limits import LOGIN_ACCOUNT_SCOPE, Throttled

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CallwiseError)
    def _domain(exc: CallwiseError) -> ResponseReturnValue:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> ResponseReturnValue:
        if exc.limit.scope == LOGIN_ACCOUNT_SCOPE:
            response = error_response(429, "login_throttled", "too many failed log-ins for this account "
                                      f"({exc.description}); try again once Retry-After has passed")
        else:
            response = error_response(429, "rate_limited", f"too many requests ({exc.description}); try again shortly")
        retry = getattr(exc, "retry_after", None)
        if retry:
            response.headers["Retry-After"] = str(int(retry))
        return response

    @app.errorhandler(Throttled)
    def _throttled(exc: Throttled) -> ResponseReturnValue:
        response = error_response(429, "rate_limited", exc.description or "too many requests; try again shortly")
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> ResponseReturnValue:
        log.warning("integrity conflict: %s", exc.orig)
        return error_response(409, "conflict", "the change conflicts with another one made at the same time; retry")

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> ResponseReturnValue:
        log.error("database unavailable: %s", exc.orig)
        return error_response(503, "database_unavailable", "the database is unavailable; please try again shortly")

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> ResponseReturnValue:
        if exc.connection_invalidated:
            return error_response(503, "database_unavailable", "the database connection was lost; please retry")
        log.exception("database error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        if not _is_api():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():  # e.g. a 405's Allow, which RFC 9110 requires
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
