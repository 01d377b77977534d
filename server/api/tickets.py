"""Tickets: issued by kiosks, followed by their holders."""

from __future__ import annotations

import re

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import Field, StrictBool

from server.api import bp
from server.api.common import (
    Note,
    StrictBody,
    branch_id_for,
    current_actor,
    parse_body,
    parse_whole_number,
    require_device,
    require_manager,
    require_staff,
    runtime,
)
from server.errors import Invalid
from server.limits import kiosk_limited, limiter
from server.qr import qr_png, qr_svg
from server.queueing import customer, tickets

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


class IssueBody(StrictBody):
    service: str = Field(min_length=1, max_length=8)
    lang: str | None = Field(default=None, max_length=8)
    priority: StrictBool = False


@bp.post("/tickets")
@kiosk_limited
def issue() -> ResponseReturnValue:
    """Issue a ticket: a kiosk, or a member of staff (a ticket issued at the lobby desk). 201 with
    the ticket, or 200 with the same ticket when the ``Idempotency-Key`` header repeats one this
    kiosk or person already used. ``priority``: a priority customer (elderly, disabled, pregnant),
    called before the normal tickets of the service. 422 for an unknown service."""
    actor = current_actor()
    if not actor.is_staff:
        actor = require_device("kiosk")
    body = parse_body(IssueBody)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise Invalid("Idempotency-Key must be 8–64 letters, digits or . _ : -", code="bad_idempotency_key")
    ticket, created = tickets.issue_ticket(runtime(), actor, branch_id_for(actor), body.service, body.lang, key,
                                           priority=body.priority)
    return jsonify(ticket), 201 if created else 200


@bp.get("/tickets/<token>")
def get_ticket(token: str) -> ResponseReturnValue:
    """The ticket with this token, with its live position and estimated wait. 404 if unknown."""
    return jsonify(tickets.get_ticket_by_token(runtime(), token))


class RatingBody(StrictBody):
    stars: int = Field(ge=1, le=5)
    comment: Note | None = Field(default=None, description="the customer's own words")


@bp.post("/tickets/<token>/rating")
@limiter.limit("10/minute")
def rate(token: str) -> ResponseReturnValue:
    """The holder rates the finished service, once: 1-5 stars and an optional comment.
    409 ``not_finished`` before the service is done, 409 ``already_rated`` the second time."""
    body = parse_body(RatingBody)
    return jsonify(tickets.rate_ticket(runtime(), token, body.stars, body.comment))


@bp.post("/tickets/<token>/cancel")
@limiter.limit("10/minute")
def cancel(token: str) -> ResponseReturnValue:
    """The holder leaves the queue from the phone page: a waiting or held ticket is cancelled
    (``cancel_reason: "customer"``) and everyone behind moves up. 409 ``not_waiting`` once called."""
    parse_body(StrictBody)
    return jsonify(tickets.cancel_by_holder(runtime(), token))


@bp.post("/tickets/<id:ticket_id>/return")
def return_ticket(ticket_id: int) -> ResponseReturnValue:
    """A no-show who came back (staff): waiting again, at the front of its service. 409
    ``not_no_show`` for any other ticket, ``branch_closed`` outside the day it was issued."""
    actor = require_staff()
    parse_body(StrictBody)
    return jsonify(tickets.return_ticket(runtime(), actor, branch_id_for(actor), ticket_id))


@bp.get("/tickets/<id:ticket_id>/context")
def context(ticket_id: int) -> ResponseReturnValue:
    """The customer's context for the teller (staff): waited, language, priority, the history of
    calls, holds, transfers and returns with their notes, and what the lobby recorded about it."""
    actor = require_staff()
    return jsonify(customer.ticket_context(runtime(), actor, branch_id_for(actor), ticket_id))


@bp.get("/ratings")
def ratings() -> ResponseReturnValue:
    """The branch's latest ratings with their comments, counter and teller, newest first (managers)."""
    actor = require_manager()
    limit = parse_whole_number(request.args.get("limit"), "limit", 1, 200, 20) or 20
    return jsonify(customer.latest_ratings(runtime(), actor, branch_id_for(actor), limit))


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
