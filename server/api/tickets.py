"""Tickets: issued by kiosks, followed by their holders."""

from __future__ import annotations

import re

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import Field

from server.api import bp
from server.api.common import StrictBody, branch_id_for, parse_body, require_device, runtime
from server.errors import Invalid
from server.limits import kiosk_key, kiosk_rate, limiter
from server.qr import qr_png, qr_svg
from server.queueing import tickets

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


class IssueBody(StrictBody):
    service: str = Field(min_length=1, max_length=8)
    lang: str | None = Field(default=None, max_length=8)


@bp.post("/tickets")
@limiter.limit(kiosk_rate, key_func=kiosk_key)
def issue() -> ResponseReturnValue:
    """Issue a ticket (kiosk devices only). 201 with the ticket, or 200 with the same ticket when
    the ``Idempotency-Key`` header repeats one this kiosk already used. 422 for an unknown service."""
    actor = require_device("kiosk")
    body = parse_body(IssueBody)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise Invalid("Idempotency-Key must be 8–64 letters, digits or . _ : -", code="bad_idempotency_key")
    ticket, created = tickets.issue_ticket(runtime(), actor, branch_id_for(actor), body.service, body.lang, key)
    return jsonify(ticket), 201 if created else 200


@bp.get("/tickets/<token>")
def get_ticket(token: str) -> ResponseReturnValue:
    """The ticket with this token, with its live position and estimated wait. 404 if unknown."""
    return jsonify(tickets.get_ticket_by_token(runtime(), token))


class RatingBody(StrictBody):
    stars: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)


@bp.post("/tickets/<token>/rating")
@limiter.limit("10/minute")
def rate(token: str) -> ResponseReturnValue:
    """The holder rates the finished service, once: 1-5 stars and an optional comment.
    409 ``not_finished`` before the service is done, 409 ``already_rated`` the second time."""
    body = parse_body(RatingBody)
    return jsonify(tickets.rate_ticket(runtime(), token, body.stars, body.comment))


@bp.get("/tickets/<token>/qr.svg")
def ticket_qr_svg(token: str) -> ResponseReturnValue:
    """The QR code of the ticket's tracking URL, as SVG (for the printed ticket)."""
    ticket = tickets.get_ticket_by_token(runtime(), token)
    return Response(qr_svg(ticket["track_url"]), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=86400"})


@bp.get("/tickets/<token>/qr.png")
def ticket_qr_png(token: str) -> ResponseReturnValue:
    """The same QR code as PNG (for printers that take bitmaps)."""
    ticket = tickets.get_ticket_by_token(runtime(), token)
    return Response(qr_png(ticket["track_url"]), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=86400"})
