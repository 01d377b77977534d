"""Between the lobby manager and the counters: instructions (manager -> counter, answered by the
teller), answers to help requests, and recorded complaints."""

from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import Field

from server.api import bp
from server.api.common import (
    MAX_COMPLAINT_DAYS,
    ComplaintText,
    Line,
    Note,
    StrictBody,
    branch_id_for,
    check_range,
    parse_body,
    parse_day,
    require_manager,
    require_staff,
    runtime,
)
from server.config import MAX_COUNTER_NUMBER
from server.lobby import complaints, instructions
from server.vocabulary import COMPLAINT_KINDS, INSTRUCTION_ANSWERS, INSTRUCTION_KINDS

InstructionKind = INSTRUCTION_KINDS.literal()
InstructionAnswer = INSTRUCTION_ANSWERS.literal()
ComplaintKind = COMPLAINT_KINDS.literal()


class InstructBody(StrictBody):
    kind: InstructionKind  # type: ignore[valid-type]
    ticket: int | None = Field(default=None, ge=1, le=2**53)
    text: Note | None = Field(default=None, description="what the teller should do")
    alert: int | None = Field(default=None, ge=1, le=2**53, description="the alert this acts on")


class InstructionAnswerBody(StrictBody):
    answer: InstructionAnswer  # type: ignore[valid-type]
    text: Note | None = Field(default=None, description="why not, when the answer is cannot")


class RespondBody(StrictBody):
    state: Literal["on_my_way", "done"]


class ComplaintBody(StrictBody):
    kind: ComplaintKind  # type: ignore[valid-type]
    # What the customer said, if the recorder has time to type it: the kind is what is counted.
    text: ComplaintText = ""
    ticket: int | None = Field(default=None, ge=1, le=2**53)
    counter: int | None = Field(default=None, ge=1, le=MAX_COUNTER_NUMBER)
    subject: Line | None = Field(default=None, description="the document or rule in question")


@bp.post("/counters/<counter:number>/instruct")
def instruct(number: int) -> ResponseReturnValue:
    """Send the teller at counter ``number`` an instruction (managers). 201 with the instruction."""
    actor = require_manager()
    body = parse_body(InstructBody)
    view = instructions.instruct(runtime(), actor, branch_id_for(actor), number, body.kind, ticket_id=body.ticket,
                                 text=body.text, alert_id=body.alert)
    return jsonify(view), 201


@bp.get("/instructions")
def list_instructions() -> ResponseReturnValue:
    """Managers: unanswered instructions and those answered in the last ten minutes; tellers: the
    unanswered ones of their counter."""
    actor = require_staff()
    return jsonify(instructions.list_instructions(runtime(), actor, branch_id_for(actor)))


@bp.post("/instructions/<id:instruction_id>/ack")
def answer_instruction(instruction_id: int) -> ResponseReturnValue:
    """The teller at the instruction's counter answers: done, or cannot with a reason."""
    actor = require_staff()
    body = parse_body(InstructionAnswerBody)
    return jsonify(instructions.answer(runtime(), actor, branch_id_for(actor), instruction_id, body.answer,
                                       body.text))


@bp.post("/alerts/<id:alert_id>/respond")
def respond(alert_id: int) -> ResponseReturnValue:
    """Answer a help request: on_my_way, then done (which resolves it)."""
    actor = require_manager()
    body = parse_body(RespondBody)
    return jsonify(runtime().alerts.respond(actor, branch_id_for(actor), alert_id, body.state))


@bp.post("/complaints")
def record_complaint() -> ResponseReturnValue:
    """Record a complaint (staff). 201 with it."""
    actor = require_staff()
    body = parse_body(ComplaintBody)
    view = complaints.record(runtime(), actor, branch_id_for(actor), body.kind, body.text, ticket_id=body.ticket,
                             counter_number=body.counter, subject=body.subject)
    return jsonify(view), 201


@bp.get("/complaints")
def list_complaints() -> ResponseReturnValue:
    """Complaints recorded ``?from=DATE&to=DATE`` (default: today), managers."""
    actor = require_manager()
    rt = runtime()
    branch_id = branch_id_for(actor)
    today = rt.clock.now().astimezone(rt.config_for(branch_id).tz).date()
    first = parse_day(request.args.get("from"), today)
    last = parse_day(request.args.get("to"), first if request.args.get("from") else today)
    check_range(first, last, MAX_COMPLAINT_DAYS)
    return jsonify(complaints.complaints_between(rt, branch_id, first, last))


