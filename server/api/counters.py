"""Counters: what tellers (and managers) do at them. Each action is one service function."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import Field

from server.actors import Actor
from server.api import bp
from server.api.common import Note, StrictBody, branch_id_for, current_actor, parse_body, require_staff, runtime
from server.config import MAX_COUNTER_NUMBER
from server.errors import Forbidden, Unauthorized
from server.queueing import counters, reads
from server.vocabulary import HELP_REASONS, OUTCOMES, PAUSE_REASONS

OutcomeCode = OUTCOMES.literal()
PauseReasonCode = PAUSE_REASONS.literal()
HelpReasonCode = HELP_REASONS.literal()


class CompleteBody(StrictBody):
    outcome: OutcomeCode = "done"  # type: ignore[valid-type]


class TransferBody(StrictBody):
    service: str | None = Field(default=None, min_length=1, max_length=8)
    counter: int | None = Field(default=None, ge=1, le=MAX_COUNTER_NUMBER)
    note: Note | None = Field(default=None, description="for the next teller")


class CallBody(StrictBody):
    ticket: int = Field(ge=1, le=2**53)


class HoldBody(StrictBody):
    note: Note | None = Field(default=None, description="why the customer stepped aside")


class HelpBody(StrictBody):
    reason: HelpReasonCode = "authorization"  # type: ignore[valid-type]
    text: Note | None = Field(default=None, description="a word for the manager")


class PauseBody(StrictBody):
    reason: PauseReasonCode  # type: ignore[valid-type]


def _staff_and_branch() -> tuple[Actor, int]:
    actor = require_staff()
    parse_body(StrictBody)  # these actions take no parameters: reject a malformed or non-empty body
    return actor, branch_id_for(actor)


@bp.get("/counters")
def list_counters() -> ResponseReturnValue:
    """Every counter of the branch with state, staff and current ticket (staff and displays)."""
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthorized("log in or use a display token", code="login_required")
    if not (actor.is_staff or actor.is_device("display")):
        raise Forbidden("for staff and displays", code="wrong_role")
    rt = runtime()
    branch_id = branch_id_for(actor)
    with rt.reading() as session:
        return jsonify(reads.counter_views(session, rt.config_for(branch_id), branch_id))


@bp.post("/counters/<counter:number>/open")
def open_counter(number: int) -> ResponseReturnValue:
    """Sign the caller in at counter ``number``. 409 if someone else holds it or the caller holds another."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.open_counter(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/call-next")
def call_next(number: int) -> ResponseReturnValue:
    """Call the next customer. 404 ``queue_empty`` when nobody waits for this counter's services."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.call_next(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/call")
def call(number: int) -> ResponseReturnValue:
    """Call one chosen ticket, waiting or held, to this free counter. 409 ``not_waiting`` if it is
    not (or another counter has just called it), 403 ``not_your_service`` if the counter does not
    serve its service."""
    actor = require_staff()
    body = parse_body(CallBody)
    return jsonify(counters.call_ticket(runtime(), actor, branch_id_for(actor), number, body.ticket))


@bp.post("/counters/<counter:number>/hold")
def hold(number: int) -> ResponseReturnValue:
    """The current customer steps aside (held, out of the queue, number kept) with an optional
    note; the counter is free. The ticket comes back only by ``call``."""
    actor = require_staff()
    body = parse_body(HoldBody)
    return jsonify(counters.hold(runtime(), actor, branch_id_for(actor), number, body.note))


@bp.post("/counters/<counter:number>/undo")
def undo(number: int) -> ResponseReturnValue:
    """Undo the counter's last complete or no-show within the undo window (60 s by default), while
    nothing else has happened there. 409 ``nothing_to_undo`` / ``undo_expired``."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.undo(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/recall")
def recall(number: int) -> ResponseReturnValue:
    """Call the current customer again."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.recall(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/start")
def start(number: int) -> ResponseReturnValue:
    """The called customer has arrived: service starts."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.start_service(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/complete")
def complete(number: int) -> ResponseReturnValue:
    """Finish the customer being served with an outcome (done, redo, error; default done)."""
    actor = require_staff()
    body = parse_body(CompleteBody)
    return jsonify(counters.complete(runtime(), actor, branch_id_for(actor), number, body.outcome))


@bp.post("/counters/<counter:number>/no-show")
def no_show(number: int) -> ResponseReturnValue:
    """The called customer did not come: 409 ``too_early`` within the grace after the call (60 s by default)."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.no_show(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/transfer")
def transfer(number: int) -> ResponseReturnValue:
    """Move the current customer to another service's queue, keeping number and place, or to one
    counter's own queue (``counter``), with an optional ``note`` for the next teller."""
    actor = require_staff()
    body = parse_body(TransferBody)
    return jsonify(counters.transfer(runtime(), actor, branch_id_for(actor), number, body.service, body.counter,
                                     body.note))


@bp.post("/counters/<counter:number>/pause")
def pause(number: int) -> ResponseReturnValue:
    """Pause a free counter with a reason."""
    actor = require_staff()
    body = parse_body(PauseBody)
    return jsonify(counters.pause(runtime(), actor, branch_id_for(actor), number, body.reason))


@bp.post("/counters/<counter:number>/resume")
def resume(number: int) -> ResponseReturnValue:
    """End the counter's pause."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.resume(runtime(), actor, branch_id, number))


@bp.post("/counters/<counter:number>/request-help")
def request_help(number: int) -> ResponseReturnValue:
    """Page the manager about the current customer, with a reason (default authorization) and a word."""
    actor = require_staff()
    body = parse_body(HelpBody)
    return jsonify(counters.request_help(runtime(), actor, branch_id_for(actor), number, body.reason, body.text))


@bp.post("/counters/<counter:number>/close")
def close(number: int) -> ResponseReturnValue:
    """Sign out of the counter (it must be free or paused)."""
    actor, branch_id = _staff_and_branch()
    return jsonify(counters.close_counter(runtime(), actor, branch_id, number))
