"""The API reference as an OpenAPI 3.1 document, served at /api/v1/openapi.json.

Request bodies come from the same pydantic models the views validate with, and every enum of a
closed word list (statuses, states, outcomes, pause reasons, ...) from server/vocabulary.py, so
they cannot drift; a test checks that every route under /api/v1 is documented here.
"""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from server import vocabulary
from server.api import bp
from server.api.admin import AUDIT_PAGE_MAX, DeviceAddBody, PasswordBody, RoleBody, StaffAddBody
from server.api.auth import LoginBody
from server.api.clock import AdvanceBody
from server.api.converters import MAX_ROW_ID
from server.api.counters import CallBody, CompleteBody, HelpBody, HoldBody, PauseBody, TransferBody
from server.api.lobby import ComplaintBody, InstructBody, InstructionAnswerBody, RespondBody
from server.api.tickets import IDEMPOTENCY_KEY, IssueBody, RatingBody
from server.config import MAX_COUNTER_NUMBER
from server.range_report import RANGE_TABLES


def _enum(words: vocabulary.WordList, nullable: bool = False) -> dict[str, Any]:
    """The codes of a word list as a JSON Schema enum (with null if the field may be empty)."""
    return {"enum": [*words.codes, *([None] if nullable else [])]}


def _enum_keys(words: vocabulary.WordList) -> dict[str, Any]:
    """An object with one integer per code of a word list, every code present."""
    return {"required": list(words.codes), "additionalProperties": False,
            "properties": {code: {"type": "integer"} for code in words.codes}}


_TEXTS = {"type": "object", "additionalProperties": {"type": "string"}, "description": "{language: text}"}

ERRORS = {
    "400": "malformed request (e.g. not JSON)",
    "401": "no or invalid credentials",
    "403": "not allowed for this caller",
    "404": "unknown thing",
    "409": "state conflict; nothing changed",
    "415": "a body sent without 'Content-Type: application/json'",
    "422": "valid JSON, invalid values",
    "429": "rate limit (only the operations that say so: log-in, ticket issue, the holder's rating and cancel)",
    "503": "database unavailable",
}
# Flask-Limiter's answer on a limited operation: when to try again.
RATE_LIMIT_HEADERS = {"Retry-After": {"description": "seconds until the limit lets the next request through",
                                      "required": True, "schema": {"type": "integer", "minimum": 0}}}

TICKET: dict[str, Any] = {
    "type": "object",
    "required": ["id", "number", "service", "status", "people_ahead", "position", "estimated_wait_s", "issued_at"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string", "example": "A012"},
        "service": {"type": "string"},
        "status": _enum(vocabulary.TICKET_STATUSES),
        "token": {"type": "string", "description": "only for the ticket's holder (kiosk answer, token look-up)"},
        "track_url": {"type": "string", "description": "only for the holder: <public_url>/t/<token>"},
        "qr_svg_url": {"type": "string"},
        "qr_png_url": {"type": "string"},
        "people_ahead": {"type": "integer", "description": "waiting tickets of the same service ahead at issue"},
        "position": {"type": "integer", "description": "1 = next of its service; 0 once called"},
        "estimated_wait_s": {"type": ["integer", "null"],
                             "description": "live estimate; null while no staffed counter serves its service"},
        "fits_before_close": {"type": ["boolean", "null"], "description": (
            "likely to be called before closing: as at issue (the kiosk says so if not), false from late_warned_at")},
        "late_warned_at": {"type": ["string", "null"], "format": "date-time", "description": (
            "when, still waiting, the branch found it unlikely to be reached before closing (checked every "
            "minute; its phone page hears it)")},
        "cancel_reason": {**_enum(vocabulary.CANCEL_REASONS, nullable=True),
                          "description": "why a cancelled ticket was (branch_closed: still waiting at closing)"},
        "estimated_wait_at_issue_s": {"type": "integer", "description": "what the customer was promised"},
        "issued_at": {"type": "string", "format": "date-time"},
        "called_at": {"type": ["string", "null"], "format": "date-time"},
        "served_at": {"type": ["string", "null"], "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "counter": {"type": ["integer", "null"]},
        "outcome": _enum(vocabulary.OUTCOMES, nullable=True),
        "recall_count": {"type": "integer"},
        "help_requested": {"type": "boolean", "description": "the counter asked for authorization/help"},
        "help_state": {**_enum(vocabulary.HELP_STATES, nullable=True),
                       "description": "while help is requested: waiting for the manager, or the manager on the way"},
        "lang": {"type": "string"},
        "business_day": {"type": "string", "format": "date"},
        "priority": {"type": "boolean", "description": "a priority customer (elderly, disabled, pregnant): called "
                                                       "before the normal tickets of its service"},
        "held_at": {"type": ["string", "null"], "format": "date-time",
                    "description": "when it last stepped aside at a counter (status held until called back)"},
        "directed_counter": {"type": ["integer", "null"],
                             "description": "sent to this counter's own queue by a transfer"},
        "branch": {"type": "object", "description": "only for the holder: the branch's code, name and time zone",
                   "properties": {"code": {"type": "string"}, "name": _TEXTS, "timezone": {"type": "string"}}},
        "service_name": {**_TEXTS, "description": "only for the holder"},
        "documents": {"type": "array", "items": _TEXTS, "description": "only for the holder: what to bring"},
        "notes": {"type": ["object", "null"], "additionalProperties": {"type": "string"},
                  "description": "only for the holder: the service's notes"},
        "rating": {"type": ["integer", "null"], "description": "only for the holder: the stars given"},
        "rating_comment": {"type": ["string", "null"], "description": "only for the holder"},
        "note": {"type": ["string", "null"], "description": "in the customer's context: the latest note"},
        "version": {"type": "integer", "description": "the branch's state version after a counter action"},
    },
}

QUEUE_ITEM = {
    "type": "object",
    "description": "a Ticket with what the waiting list adds",
    "required": [*TICKET["required"], "waited_s", "at_risk", "held"],
    "properties": {**TICKET["properties"], **{
        "waited_s": {"type": "integer", "description": "since issue"},
        "people_ahead_at_issue": {"type": "integer"},
        "at_risk": {"type": "boolean", "description": "a short-queue customer past queue.at_risk_after_s"},
        "held": {"type": "boolean", "description": "stepped aside at a counter: back only by call"},
        "note": {"type": ["string", "null"], "description": "the latest hold or transfer note, for the next teller"},
    }},
}

QUEUE = {
    "type": "object",
    "required": ["services"],
    "properties": {"services": {"type": "array", "items": {"type": "object", "required": [
        "code", "name", "waiting", "held", "estimated_wait_s", "staffed_counters", "tickets"], "properties": {
        "code": {"type": "string"},
        "name": {"type": "object"},
        "waiting": {"type": "integer"},
        "held": {"type": "integer"},
        "estimated_wait_s": {"type": ["integer", "null"]},
        "staffed_counters": {"type": "integer"},
        "tickets": {"type": "array", "items": {"$ref": "#/components/schemas/QueueItem"},
                    "description": "the waiting tickets in call order, then the held ones"},
    }}}},
}

CONTEXT = {
    "type": "object",
    "required": ["ticket", "waited_s", "lang", "priority", "note", "history", "lobby"],
    "properties": {
        "ticket": {"$ref": "#/components/schemas/Ticket"},
        "waited_s": {"type": "integer", "description": "from issue to the first call (or until now)"},
        "lang": {"type": "string"},
        "priority": {"type": "boolean"},
        "note": {"type": ["string", "null"]},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"},
            "action": {"type": "string"},
            "counter": {"type": ["integer", "null"]},
            "note": {"type": ["string", "null"]},
            "from_service": {"type": ["string", "null"]},
            "to_service": {"type": ["string", "null"]},
            "to_counter": {"type": ["integer", "null"]},
            "reason": {"type": ["string", "null"]},
            "by": {"type": ["string", "null"]},
        }}},
        "lobby": {"type": "array", "items": {"type": "object", "required": ["kind", "at"], "properties": {
            "kind": {"enum": ["alert", "instruction", "complaint"]},
            "at": {"type": "string", "format": "date-time"},
            "rule": {**_enum(vocabulary.ALERT_RULES), "description": "an alert's rule"},
            "acknowledged": {"type": "boolean", "description": "an alert's"},
            "resolved": {"type": "boolean", "description": "an alert's"},
            "instruction": {**_enum(vocabulary.INSTRUCTION_KINDS), "description": "an instruction's kind"},
            "counter": {"type": ["integer", "null"], "description": "the counter an instruction went to"},
            "answer": {**_enum(vocabulary.INSTRUCTION_ANSWERS, nullable=True), "description": "an instruction's"},
            "complaint": {**_enum(vocabulary.COMPLAINT_KINDS), "description": "a complaint's kind"},
            "text": {"type": ["string", "object", "null"], "additionalProperties": {"type": "string"},
                     "description": "an alert's message ({language: text}), an instruction's or complaint's text"},
        }}, "description": "alerts raised on the ticket, instructions naming it, complaints recorded on it"},
    },
}

RATING = {
    "type": "object",
    "required": ["ticket", "service", "stars", "comment", "counter", "teller", "rated_at"],
    "properties": {
        "ticket": {"type": "object", "properties": {"id": {"type": "integer"}, "number": {"type": "string"}}},
        "service": {"type": ["string", "null"]},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "comment": {"type": ["string", "null"]},
        "counter": {"type": ["integer", "null"]},
        "teller": {"type": ["string", "null"]},
        "rated_at": {"type": "string", "format": "date-time"},
    },
}

COUNTER = {
    "type": "object",
    "required": ["number", "name", "services", "state", "state_since", "staff", "current_ticket", "pause_reason",
                 "help_requested_at", "undo", "help"],
    "properties": {
        "number": {"type": "integer"},
        "name": {"type": ["object", "null"]},
        "services": {"type": "array", "items": {"type": "string"}, "description": "in call-priority order"},
        "state": _enum(vocabulary.COUNTER_STATES),
        "state_since": {"type": "string", "format": "date-time"},
        "staff": {"type": ["object", "null"]},
        "current_ticket": {"type": ["object", "null"]},
        "pause_reason": _enum(vocabulary.PAUSE_REASONS, nullable=True),
        "help_requested_at": {"type": ["string", "null"], "format": "date-time"},
        "undo": {"type": ["object", "null"], "description": (
            "the counter's last complete or no-show while undo may take it back (until 'until')"), "properties": {
            "action": {"enum": ["complete", "no_show"]},
            "ticket": {"type": "object", "properties": {"id": {"type": "integer"}, "number": {"type": "string"}}},
            "until": {"type": "string", "format": "date-time"},
        }},
        "version": {"type": "integer", "description": "the branch's state version after a counter action"},
        "help": {"type": ["object", "null"], "description": "the open help request", "properties": {
            "requested_at": {"type": "string", "format": "date-time"},
            "reason": _enum(vocabulary.HELP_REASONS),
            "text": {"type": ["string", "null"]},
            "state": _enum(vocabulary.HELP_STATES),
            "responded_at": {"type": ["string", "null"], "format": "date-time"},
        }},
    },
}

SERVICE = {
    "type": "object",
    "required": ["code", "name", "kind", "expected_minutes", "documents", "notes", "target_wait_s", "waiting",
                 "estimated_wait_s", "staffed_counters", "fits_before_close", "normal_service_s"],
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "object", "additionalProperties": {"type": "string"}},
        "kind": _enum(vocabulary.SERVICE_KINDS),
        "expected_minutes": {"type": "number"},
        "documents": {"type": "array", "items": {"type": "object"}},
        "notes": {"type": ["object", "null"]},
        "target_wait_s": {"type": ["integer", "null"]},
        "waiting": {"type": "integer"},
        "estimated_wait_s": {"type": ["integer", "null"],
                             "description": "for a ticket issued now; null when staffed_counters is 0"},
        "staffed_counters": {"type": "integer", "description": "open, staffed counters that may serve it (paused "
                                                                "ones included)"},
        "fits_before_close": {"type": "boolean", "description": "a ticket issued now is likely to be called "
                                                                 "before closing"},
        "normal_service_s": {"type": "integer", "description": "a normal service's length today: the day's "
                                                               "median start to finish, or expected_minutes"},
    },
}

ALERT = {
    "type": "object",
    "required": ["id", "rule", "severity", "subject", "message", "messages", "raised_at", "escalated_at",
                 "acknowledged_at", "acknowledged_by", "resolved_at", "counter", "lead_time_s", "data", "reminder",
                 "action"],
    "properties": {
        "id": {"type": "integer"},
        "rule": _enum(vocabulary.ALERT_RULES),
        "severity": _enum(vocabulary.ALERT_SEVERITIES),
        "subject": {
            "type": "object",
            "properties": {
                "kind": _enum(vocabulary.ALERT_SUBJECT_KINDS),
                "id": {"description": "counter number, ticket id, service code or branch code"},
                "label": {"type": "string", "description": "how people name it: 'A012', '3'"},
            },
        },
        "message": {"type": "string", "description": "in the branch's first language"},
        "messages": {"type": "object", "additionalProperties": {"type": "string"}},
        "raised_at": {"type": "string", "format": "date-time"},
        "escalated_at": {"type": ["string", "null"], "format": "date-time"},
        "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
        "acknowledged_by": {"type": ["string", "null"], "description": "username"},
        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "counter": {"type": ["integer", "null"], "description": "the counter whose teller also hears of it"},
        "lead_time_s": {"type": ["integer", "null"], "description": "short_queue_long_wait: line minus wait at raise"},
        "data": {"type": "object"},
        "reminder": {"type": "boolean", "description": "true when re-announcing an unacknowledged critical alert"},
        "action": {"type": ["object", "null"], "description": "what the manager should do, where", "properties": {
            "kind": _enum(vocabulary.ACTION_KINDS),
            "counter": {"type": ["integer", "null"], "description": "the counter to instruct or go to"},
            "teller": {"type": ["string", "null"], "description": "who sits there"},
            "ticket": {"type": ["object", "null"], "description": "{id, number} of the customer concerned"},
            "instruction": {**_enum(vocabulary.INSTRUCTION_KINDS, nullable=True),
                            "description": "the instruction that does it from the card, if one does"},
            "text": {"type": "string", "description": "in the branch's first language"},
            "messages": {"type": "object", "additionalProperties": {"type": "string"}},
        }},
    },
}

INSTRUCTION = {
    "type": "object",
    "required": ["id", "kind", "counter", "teller", "ticket", "alert_id", "text", "messages", "issued_by", "issued_at",
                 "answer_due_at", "overdue", "answer", "answer_text", "answered_by", "answered_at"],
    "properties": {
        "id": {"type": "integer"},
        "kind": _enum(vocabulary.INSTRUCTION_KINDS),
        "counter": {"type": "integer"},
        "teller": {"type": ["string", "null"], "description": "who sat at the counter when it was sent"},
        "ticket": {"type": ["object", "null"], "description": "{id, number}"},
        "alert_id": {"type": ["integer", "null"]},
        "text": {"type": ["string", "null"]},
        "messages": {"type": "object", "additionalProperties": {"type": "string"}, "description": "the kind's label"},
        "issued_by": {"type": ["string", "null"]},
        "issued_at": {"type": "string", "format": "date-time"},
        "answer_due_at": {"type": "string", "format": "date-time"},
        "overdue": {"type": "boolean", "description": "unanswered past answer_due_at"},
        "answer": _enum(vocabulary.INSTRUCTION_ANSWERS, nullable=True),
        "answer_text": {"type": ["string", "null"]},
        "answered_by": {"type": ["string", "null"]},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

COMPLAINT = {
    "type": "object",
    "required": ["id", "kind", "ticket", "counter", "subject", "text", "recorded_by", "recorded_at", "warned"],
    "properties": {
        "id": {"type": "integer"},
        "kind": _enum(vocabulary.COMPLAINT_KINDS),
        "ticket": {"type": ["object", "null"], "description": "{id, number}"},
        "counter": {"type": ["integer", "null"]},
        "subject": {"type": ["string", "null"], "description": "the document or rule in question"},
        "text": {"type": "string"},
        "recorded_by": {"type": ["string", "null"]},
        "recorded_at": {"type": "string", "format": "date-time"},
        "warned": {
            "type": ["object", "null"],
            "description": "the earliest alert about its ticket or counter (or, naming neither, a branch-wide alert "
                           "foretelling its kind) raised before it and open then or resolved within 30 minutes; "
                           "null when nothing warned of it",
            "required": ["alert", "rule", "severity", "raised_at", "lead_s", "acknowledged", "acted",
                         "resolved_before"],
            "properties": {
                "alert": {"type": "integer"},
                "rule": {"type": "string"},
                "severity": {"type": "string"},
                "raised_at": {"type": "string", "format": "date-time"},
                "lead_s": {"type": "integer", "description": "how long before the complaint it was raised"},
                "acknowledged": {"type": "boolean", "description": "acknowledged by then"},
                "acted": {"type": "boolean", "description": "an instruction naming it had been sent by then"},
                "resolved_before": {"type": "boolean"},
            },
        },
    },
}

# Where each list's codes appear, for the reference.
_VOCABULARY_USES = {
    "ticket_statuses": "Ticket.status",
    "counter_states": "Counter.state",
    "pause_reasons": "the pause body's reason, Counter.pause_reason",
    "outcomes": "the complete body's outcome, Ticket.outcome, the reports' outcomes",
    "service_kinds": "Service.kind",
    "cancel_reasons": "why a ticket was cancelled (not yet in the ticket itself)",
    "alert_severities": "Alert.severity",
    "alert_rules": "Alert.rule, the reports' alerts",
    "alert_subject_kinds": "Alert.subject.kind",
}


def _word_list(words: vocabulary.WordList) -> dict[str, Any]:
    return {
        "type": "array",
        "description": f"{_VOCABULARY_USES.get(words.name, words.name)}; in the order screens show them",
        "items": {
            "type": "object",
            "required": ["code", "label", "short", "phrase"],
            "properties": {
                "code": _enum(words),
                "label": {**_TEXTS, "description": "standing alone: a badge, a menu entry, a heading"},
                "short": {**_TEXTS, "description": "for tight spots such as table columns (often the label)"},
                "phrase": {**_TEXTS, "description": "inside a sentence: 'paused (cash replenishment)'"},
            },
        },
    }


HOURS = {
    "type": "object",
    "description": "where the branch stands now (also in every state_snapshot)",
    "properties": {
        "state": {"enum": ["before_opening", "open", "last_tickets_issued", "closed"]},
        "opens_at": {"type": ["string", "null"], "format": "date-time",
                     "description": "the day's opening: today's, or the next opening's when closed"},
        "last_ticket_at": {"type": ["string", "null"], "format": "date-time"},
        "closes_at": {"type": ["string", "null"], "format": "date-time"},
        "next_opening": {"type": ["string", "null"], "format": "date-time", "description": "the next one from now"},
    },
}

BRANCH = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "name": {"type": ["object", "string"]},
        "languages": {"type": "array", "items": {"type": "string"}, "description": "the first is the default"},
        "timezone": {"type": "string"},
        "opening_time": {"type": "string", "example": "09:00"},
        "closing_time": {"type": "string", "example": "17:00"},
        "last_ticket_time": {"type": "string", "example": "16:45", "description": "no ticket from then on"},
        "open_days": {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
        "closed_dates": {"type": "array", "items": {"type": "string", "format": "date"}, "description": "holidays"},
        "hours": HOURS,
        "pause_reasons": {"type": "array", "description": "code and name (the phrase); see vocabulary",
                          "items": {"type": "object", "properties": {"code": _enum(vocabulary.PAUSE_REASONS),
                                                                     "name": _TEXTS}}},
        "outcomes": {"type": "array", "description": "code and name (the label); see vocabulary",
                     "items": {"type": "object", "properties": {"code": _enum(vocabulary.OUTCOMES), "name": _TEXTS}}},
        "clock": {"enum": ["system", "manual"]},
        "now": {"type": "string", "format": "date-time"},
        "service_overrun_factor": {"type": "number"},
        "short_queue_complaint_s": {"type": "integer"},
        "queue": {"type": "object", "description": "the counter's rules", "properties": {
            "priority_share": {"type": "number"}, "no_show_grace_s": {"type": "integer"},
            "undo_window_s": {"type": "integer"}}},
        "display": {"type": "object", "description": "the lobby display: its idle screen, who speaks the calls",
                    "properties": {"idle_after_s": {"type": "integer"},
                                   "voice": {"enum": ["auto", "browser", "server", "off"]},
                                   "server_voice": {"type": "boolean", "description": "espeak-ng is installed"}}},
        "vocabulary": {
            "type": "object",
            "description": "Every closed word list of the API with its labels in every language, from "
            "which screens take the words they show (one source: server/vocabulary.py)",
            "required": ["languages", *(words.name for words in vocabulary.ALL)],
            "properties": {
                "languages": {"type": "array", "items": {"type": "string"}, "description": "every label has these"},
                **{words.name: _word_list(words) for words in vocabulary.ALL},
            },
        },
    },
}

_SECONDS = {"type": ["number", "null"], "description": "seconds, rounded to 0.1; null when there is nothing to measure"}
_SHARE = {"type": ["number", "null"], "description": "a fraction (0.875 = 87.5%); null when nothing is counted"}
_OUTCOMES = {"type": "object", "properties": {k: {"type": "integer"} for k in vocabulary.OUTCOMES.codes}}
_RATINGS = {"type": "object", "properties": {"count": {"type": "integer"}, "mean": {"type": ["number", "null"]}}}

_INSTRUCTIONS = {"type": "object", "description": "instructions the lobby manager sent, and their answers",
                 "properties": {"sent": {"type": "integer"}, "done": {"type": "integer"},
                                "cannot": {"type": "integer"}, "unanswered": {"type": "integer"},
                                "median_answer_s": {**_SECONDS, "description": "sent to answered"}}}
_ESTIMATES = {"type": "object", "description": (
    "the waits told at issue against the real waits (issue to first call) of tickets called in the service "
    "they were issued for; and what closing did to the day's promises"),
    "properties": {
        "counted": {"type": "integer"},
        "mean_abs_error_s": _SECONDS, "median_abs_error_s": _SECONDS,
        "bias_s": {**_SECONDS, "description": "mean of real minus told: above zero, customers waited longer"},
        "within_5min": {**_SHARE, "description": "share within 300 s of the real wait"},
        "longer_than_told": {**_SHARE, "description": "share that waited more than 300 s longer than told"},
        "raw_mean_abs_error_s": {**_SECONDS, "description": "the same estimates before the day's calibration"},
        "warned_late": {"type": "integer", "description": "tickets issued with fits_before_close false"},
        "warned_while_waiting": {"type": "integer", "description": (
            "tickets told while waiting (phone page, lobby screen) they might not be reached before closing")},
        "cancelled_at_closing": {"type": "integer"},
        "cancelled_unwarned": {"type": "integer",
                               "description": (
            "cancelled at closing without having been told they might not be served: not at the kiosk, "
            "nor at least 15 minutes before closing while waiting")}}}
_RANGE_FIGURES: dict[str, Any] = {
    "type": "object",
    "required": ["tickets", "served", "no_shows", "cancelled", "service_level", "service_level_met",
                 "service_level_counted", "avg_wait_s", "worst_day_p90_wait_s", "outcomes", "error_rate", "ratings",
                 "alerts", "alerts_raised", "complaints", "complaints_total", "complaints_warned",
                 "complaints_warned_share", "complaints_warned_acted", "alerts_acted", "incidents", "incidents_total",
                 "incidents_warned", "incidents_no_complaint"],
    "properties": {
        **{key: {"type": "integer"} for key in ("tickets", "served", "no_shows", "cancelled", "service_level_met",
                                                "service_level_counted", "alerts_raised", "complaints_total",
                                                "complaints_warned", "complaints_warned_acted", "alerts_acted",
                                                "incidents_total", "incidents_warned", "incidents_no_complaint")},
        **{key: {"type": ["number", "null"]} for key in ("service_level", "avg_wait_s", "worst_day_p90_wait_s",
                                                         "error_rate", "complaints_warned_share")},
        "outcomes": {"type": "object", "additionalProperties": {"type": "integer"}},
        "ratings": {"type": "object", "required": ["count", "mean"],
                    "properties": {"count": {"type": "integer"}, "mean": {"type": ["number", "null"]}}},
        "alerts": {"type": "object", "description": "per rule: raised, critical, acknowledged, acted (an "
                   "instruction named the card)",
                   "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}},
        "complaints": {"type": "object", "description": "per complaint kind",
                       "additionalProperties": {"type": "integer"}},
        "incidents": {"type": "object", "description": "per incident kind, counted from the history",
                      **_enum_keys(vocabulary.INCIDENT_KINDS)},
    },
}
_INCIDENT = {
    "type": "object",
    "description": (
        "A situation that becomes a complaint (PRODUCT.md kinds 3-6), counted from the history with the "
        "simulator's own thresholds: a short queue (at most 2 ahead) waited over 10 min; a counter free over "
        "3 min while customers it serves waited; half the staffed counters paused over 10 min while anybody "
        "waited; a transaction over twice its service's normal time that day."),
    "required": ["kind", "start", "at", "end", "ticket", "counter", "warned", "warned_by"],
    "properties": {
        "kind": _enum(vocabulary.INCIDENT_KINDS),
        "start": {"type": "string", "format": "date-time", "description": "when the situation began"},
        "at": {"type": "string", "format": "date-time", "description": "when it became an incident"},
        "end": {"type": ["string", "null"], "format": "date-time", "description": "null while it goes on"},
        "ticket": {"type": ["object", "null"], "properties": {"id": {"type": "integer"}, "number": {"type": "string"}}},
        "counter": {"type": ["integer", "null"]},
        "warned": {"type": "boolean", "description": "a card of a rule that warns of it, on its subject, was "
                   "raised between the start of the situation and the incident"},
        "warned_by": {"type": ["object", "null"], "properties": {"rule": {"type": "string"},
                                                                 "lead_s": {"type": "integer"}}},
        "date": {"type": "string", "format": "date", "description": "range report: the day"},
        "complaint": {"type": ["integer", "null"], "description": (
            "range report: the first complaint recorded about it (its ticket; or its counter or none, of its "
            "kind) from its start to 30 min after its end")},
    },
}
RANGE_REPORT = {
    "type": "object",
    "required": ["branch", "from", "to", "timezone", "generated_at", "total", "days", "weeks", "complaints",
                 "incidents", "rating_comments"],
    "properties": {
        "branch": {"type": "object", "additionalProperties": True},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "timezone": {"type": "string"},
        "generated_at": {"type": "string", "format": "date-time"},
        "total": _RANGE_FIGURES,
        "days": {"type": "array", "items": {
            **_RANGE_FIGURES, "required": ["date", *_RANGE_FIGURES["required"]],
            "properties": {"date": {"type": "string", "format": "date"}, **_RANGE_FIGURES["properties"]}}},
        "weeks": {"type": "array", "items": {
            **_RANGE_FIGURES, "required": ["week", "from", "to", *_RANGE_FIGURES["required"]],
            "description": "ISO weeks (YYYY-Www) of the range, each cut to the range",
            "properties": {"week": {"type": "string"}, "from": {"type": "string", "format": "date"},
                           "to": {"type": "string", "format": "date"}, **_RANGE_FIGURES["properties"]}}},
        "complaints": {"type": "array", "items": {"$ref": "#/components/schemas/Complaint"}},
        "incidents": {"type": "array", "items": {**_INCIDENT, "required": [*_INCIDENT["required"], "date",
                                                                          "complaint"]}},
        "rating_comments": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
    },
}
DAILY_REPORT = {
    "type": "object",
    "description": (
        "One business day (midnight to midnight in the branch's time zone; for today, up to now). "
        "Wait: a ticket's visit to a service's queue, from issue or transfer into it to its call; "
        "averages and the 90th percentile (nearest rank) are over visits that were called. "
        "Service level: the share of counted visits called within the service's target_wait_s "
        "(equal counts as within). Counted: every called visit (a no-show counts by its call time), "
        "and every visit that waited past the target uncalled (still waiting, or cancelled after the "
        "target: misses). Not counted: cancelled before the target, or still waiting within it. "
        "No-show rate: no_show / (done + no_show). Idle with customers waiting: time a counter was "
        "idle (open, unpaused, nobody called or served) while a ticket of one of its services waited, "
        "replayed from the event log. Tickets count once, under the service they were issued for."
    ),
    "properties": {
        "date": {"type": "string", "format": "date"},
        "timezone": {"type": "string"},
        "branch": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "object"}}},
        "period": {"type": "object", "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time", "description": "the day's end, or now"},
            "complete": {"type": "boolean"}}},
        "generated_at": {"type": "string", "format": "date-time"},
        "headline": {"type": "object", "properties": {
            "tickets": {"type": "integer"}, "served": {"type": "integer"}, "no_shows": {"type": "integer"},
            "cancelled": {"type": "integer"}, "waiting": {"type": "integer"},
            "avg_wait_s": _SECONDS, "p90_wait_s": _SECONDS, "max_wait_s": _SECONDS,
            "service_level": _SHARE, "service_level_met": {"type": "integer"},
            "service_level_counted": {"type": "integer"}, "no_show_rate": _SHARE,
            "error_rate": {**_SHARE, "description": "(redo + error) / served"}, "outcomes": _OUTCOMES,
            "avg_service_s": {**_SECONDS, "description": "service start to finish of served tickets"},
            "ratings": _RATINGS, "alerts": {"type": "integer"}, "instructions": _INSTRUCTIONS,
            "estimates": _ESTIMATES, "idle_with_waiting_s": _SECONDS, "paused_s": _SECONDS,
            "priority": {"type": "object", "description": "priority customers, and their wait (issue to first "
                         "call) beside everyone else's", "properties": {
                "issued": {"type": "integer"}, "served": {"type": "integer"}, "mean_wait_s": _SECONDS,
                "others_mean_wait_s": _SECONDS}},
            "counter_tools": {"type": "object", "properties": {
                "held": {"type": "integer"}, "returned": {"type": "integer"}, "undone": {"type": "integer"},
                "called_by_choice": {"type": "integer"}, "cancelled_by_customer": {"type": "integer"}}},
            "incidents": {"type": "object", "description": "per incident kind (see incidents)",
                          **_enum_keys(vocabulary.INCIDENT_KINDS)},
            "incidents_warned": {"type": "integer"}}},
        "incidents": {"type": "array", "items": _INCIDENT},
        "ratings": {"type": "object", "properties": {
            "count": {"type": "integer"}, "mean": {"type": ["number", "null"]},
            "comments": {"type": "array", "description": "every rating of the day, newest first", "items": {
                "type": "object", "properties": {
                    "number": {"type": "string"}, "service": {"type": "string"}, "stars": {"type": "integer"},
                    "comment": {"type": ["string", "null"]}, "counter": {"type": ["integer", "null"]},
                    "teller": {"type": ["string", "null"]},
                    "rated_at": {"type": ["string", "null"], "format": "date-time"}}}}}},
        "services": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "name": {"type": "object"}, "target_wait_s": {"type": "integer"},
            "tickets": {"type": "integer"}, "transferred_in": {"type": "integer"}, "called": {"type": "integer"},
            "served": {"type": "integer"}, "no_shows": {"type": "integer"}, "cancelled": {"type": "integer"},
            "waiting": {"type": "integer"}, "avg_wait_s": _SECONDS, "p90_wait_s": _SECONDS, "max_wait_s": _SECONDS,
            "service_level": _SHARE, "service_level_met": {"type": "integer"},
            "service_level_counted": {"type": "integer"}, "no_show_rate": _SHARE, "avg_service_s": _SECONDS,
            "outcomes": _OUTCOMES}}},
        "tickets_per_hour": {"type": "object", "properties": {
            "hours": {"type": "array", "items": {"type": "integer"}, "description": "local hours"},
            "services": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}},
            "total": {"type": "array", "items": {"type": "integer"}}}},
        "tellers": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "username": {"type": "string"}, "name": {"type": "string"},
            "counters": {"type": "array", "items": {"type": "integer"}}, "served": {"type": "integer"},
            "no_shows": {"type": "integer"}, "outcomes": _OUTCOMES, "error_rate": _SHARE,
            "avg_service_s": _SECONDS, "idle_with_waiting_s": _SECONDS, "paused_s": _SECONDS,
            "signed_in_s": _SECONDS, "ratings": _RATINGS, "instructions": _INSTRUCTIONS}}},
        "counters": {"type": "array", "items": {"type": "object", "properties": {
            "number": {"type": "integer"}, "signed_in_s": _SECONDS, "paused_s": _SECONDS,
            "pauses": {"type": "integer"}, "paused_by_reason_s": {
                "type": "object", "properties": {code: _SECONDS for code in vocabulary.PAUSE_REASONS.codes},
                "description": "per pause reason; a reason no longer in the vocabulary still appears if used"},
            "idle_with_waiting_s": _SECONDS}}},
        "pauses": {"type": "array", "items": {"type": "object", "properties": {
            "reason": {"type": "string", "description": "a pause reason code (see Branch.vocabulary.pause_reasons)"},
            "count": {"type": "integer"}, "total_s": _SECONDS, "mean_s": _SECONDS,
            "max_s": _SECONDS, "ongoing": {"type": "integer"}}}},
        "alerts": {"type": "array", "description": "every rule, including those never raised", "items": {
            "type": "object", "properties": {
                "rule": {"type": "string"}, "raised": {"type": "integer"},
                "critical": {"type": "integer", "description": "raised or escalated to critical"},
                "acknowledged": {"type": "integer"}, "open": {"type": "integer"},
                "acted": {"type": "integer", "description": "of those, how many an instruction named"},
                "open_mean_s": {**_SECONDS, "description": "raised to resolved (or to the period's end)"},
                "open_max_s": _SECONDS, "ack_mean_s": _SECONDS,
                "lead_mean_s": {**_SECONDS, "description": "short_queue_long_wait: complaint line minus wait at raise"},
                "lead_min_s": _SECONDS}}},
        "waiting_series": {"type": "object", "description": (
            "waiting tickets per service every step_s from the earlier of opening time and the first "
            "event to the period's end (the last point is the end itself)"), "properties": {
            "step_s": {"type": "integer"},
            "t": {"type": "array", "items": {"type": "integer"}, "description": "POSIX seconds"},
            "services": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}}}},
    },
}


def _answering(op: dict[str, Any], media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An operation whose success answer is described in place (for shapes used by one endpoint)."""
    op["responses"]["200"]["content"] = {media_type: {"schema": schema}}
    return op


HEALTH = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": True,
    "description": "the server's state; only 'status' is promised, the rest is for operators",
    "properties": {"status": {"type": "string", "example": "ok"}},
}

_STAFF = {"type": "object", "required": ["id", "username", "name", "role"], "properties": {
    "id": {"type": "integer"}, "username": {"type": "string"}, "name": {"type": "string"},
    "role": {"enum": ["teller", "manager", "admin"]}}}

LOGIN = {
    "type": "object",
    "required": ["token", "staff", "csrf_token"],
    "properties": {
        "token": {"type": "string", "description": "the bearer token"},
        "staff": _STAFF,
        "csrf_token": {"type": "string", "description": "X-CSRF-Token for changes made with the session cookie"},
    },
}

ME = {
    "type": "object",
    "required": ["kind", "id", "role", "name", "counter"],
    "properties": {
        "kind": {"enum": ["staff", "device"]},
        "id": {"type": "integer"},
        "role": {"enum": ["teller", "manager", "admin", "kiosk", "display"]},
        "name": {"type": "string"},
        "counter": {"type": ["integer", "null"], "description": "staff: the counter they are signed in at"},
        "csrf_token": {"type": "string", "description": "staff with a session cookie"},
    },
}

CLOCK = {
    "type": "object",
    "required": ["mode", "now"],
    "properties": {"mode": {"enum": ["manual"]}, "now": {"type": "string", "format": "date-time"}},
}

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def _op(summary: str, who: str, *, body: Any = None, answer: str | dict[str, Any] | None = None, ok: str = "200",
        media_type: str = "application/json", limited: bool = False) -> dict[str, Any]:
    """One operation: its body's schema (a pydantic model), its success answer (a component's name,
    ``"[Name]"`` for an array of them, or a schema) as ``media_type``, and the error answers, all in
    the Error format; 429 only where a rate limit applies (``limited``)."""
    op: dict[str, Any] = {"summary": summary, "description": f"Who: {who}.", "responses": {}}
    if body is not None:
        body_schema = body.model_json_schema()
        op["requestBody"] = {  # an empty body counts as {}: needed only where a field is
            "required": bool(body_schema.get("required")),
            "content": {"application/json": {"schema": body_schema}},
        }
    schema = _schema_ref(answer) if isinstance(answer, str) else answer
    content = {media_type: {"schema": schema}} if schema is not None else None
    op["responses"][ok] = {"description": "success", **({"content": content} if content else {})}
    for status, text in ERRORS.items():
        if status == "429" and not limited:
            continue
        op["responses"][status] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            **({"headers": RATE_LIMIT_HEADERS} if status == "429" else {}),
        }
    return op


def _schema_ref(answer: str) -> dict[str, Any]:
    """``"Ticket"`` -> a reference to the schema; ``"[Ticket]"`` -> an array of them."""
    if answer.startswith("[") and answer.endswith("]"):
        return {"type": "array", "items": _schema_ref(answer[1:-1])}
    return {"$ref": f"#/components/schemas/{answer}"}


# Operations anyone may call without a token (``security: []`` in the document).
_OPEN = {
    ("get", "/health"), ("post", "/auth/login"), ("get", "/branch"), ("get", "/services"),
    ("get", "/tickets/{token}"), ("post", "/tickets/{token}/rating"), ("get", "/tickets/{token}/qr.svg"),
    ("get", "/tickets/{token}/qr.png"), ("get", "/openapi.json"), ("post", "/tickets/{token}/cancel"),
}
# The bounds are the path converters' (server/api/converters.py): past them a path names nothing (404).
_ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
_PATH_PARAMETERS = {
    "number": ({"type": "integer", "minimum": 1, "maximum": MAX_COUNTER_NUMBER}, "the counter's number"),
    "token": ({"type": "string", "minLength": 16, "maxLength": 64}, "the ticket's token (from its QR code)"),
    "alert_id": (_ROW_ID, "the alert's id"),
    "ticket_id": (_ROW_ID, "the ticket's id (staff)"),
    "instruction_id": (_ROW_ID, "the instruction's id"),
}
# server/api/common.py's parse_day: a calendar date of the years 1970-9998, or empty (a form's blank
# field) for the default.
_YEARS = "^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
_DATE = {"type": "string", "anyOf": [{"format": "date", "pattern": _YEARS}, {"maxLength": 0}],
         "description": "YYYY-MM-DD (years 1970-9998); empty means the default"}
_QUERY_PARAMETERS: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {
    ("get", "/alerts"): [("state", {"enum": ["open", "all"], "default": "open"}, "open alerts, or all"),
                         ("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
                          "with state=all: how many, newest first")],
    ("get", "/reports/daily"): [("date", _DATE, "the day (default: today in the branch's time zone)")],
    ("get", "/reports/daily.csv"): [("date", _DATE, "the day (default: today in the branch's time zone)"),
                                    ("lang", {"enum": list(vocabulary.LANGUAGES)}, "the headers' language"),
                                    ("table", {"enum": ["ratings"]}, "only the ratings with their comments")],
    ("get", "/announcements/voice.wav"): [("number", {"type": "string", "pattern": "^[A-Z]{1,2}[0-9]{3,4}$"},
                                            "the ticket number"),
                                           ("counter", {"type": "integer", "minimum": 1}, "the counter"),
                                           ("lang", {"type": "string"}, "one of the branch's languages"),
                                           ("recall", {"enum": ["0", "1"], "default": "0"}, "a recall")],
    ("get", "/ratings"): [("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
                           "how many, newest first")],
    ("get", "/reports/range"): [("from", _DATE, "first day (default: today)"),
                                ("to", _DATE, "last day (default: the first)")],
    ("get", "/reports/range.csv"): [("from", _DATE, "first day (default: today)"),
                                    ("to", _DATE, "last day (default: the first)"),
                                    ("lang", {"enum": list(vocabulary.LANGUAGES)}, "the headers' language"),
                                    ("table", {"enum": list(RANGE_TABLES)}, "one table alone")],
    ("get", "/complaints"): [("from", _DATE, "first day (default: today)"),
                             ("to", _DATE, "last day (default: the first)")],
}
_HEADER_PARAMETERS: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {
    ("post", "/tickets"): [("Idempotency-Key", {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
                            "a retry with the same key answers 200 with the ticket the first request issued "
                            "(422 bad_idempotency_key for another form)")],
}
_BRANCH = ("branch", {"type": "string"}, "another branch's code (admins of every branch)")


def _with_parameters(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation with its path parameters, its query parameters (``?branch=`` on all but the
    few that are not about a branch), and ``security: []`` where no token is needed."""
    for path, operations in paths.items():
        names = re.findall(r"{(\w+)}", path)
        for method, op in operations.items():
            known = {**_PATH_PARAMETERS, **ADMIN_PATH_PARAMETERS}
            parameters = [{"name": name, "in": "path", "required": True, "schema": known[name][0],
                           "description": known[name][1]} for name in names]
            query = list({**_QUERY_PARAMETERS, **ADMIN_QUERY_PARAMETERS}.get((method, path), []))
            if not path.startswith(("/auth", "/health", "/openapi", "/tickets/{token}", "/clock", "/admin")):
                query.append(_BRANCH)
            parameters += [{"name": name, "in": "query", "required": False, "schema": schema,
                            "description": text} for name, schema, text in query]
            parameters += [{"name": name, "in": "header", "required": False, "schema": schema, "description": text}
                           for name, schema, text in _HEADER_PARAMETERS.get((method, path), [])]
            if parameters:
                op["parameters"] = parameters
            if (method, path) in _OPEN:
                op["security"] = []
    return paths


# --- Accounts and devices, for admins (server/api/admin.py; issue 16, finding 3) -------------------------

ADMIN_STAFF = {
    "type": "object",
    "required": ["id", "username", "name", "role", "branch", "state", "last_seen_at", "demo"],
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "name": {"type": "string"},
        "role": {"enum": ["teller", "manager", "admin"]},
        "branch": {"type": ["string", "null"], "description": "branch code; null for an admin of every branch"},
        "state": {"enum": ["active", "disabled"]},
        "last_seen_at": {"type": ["string", "null"], "format": "date-time",
                         "description": "latest authenticated request or socket (noted at most once a minute)"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "demo": {"type": "boolean", "description": "created by demo mode"},
    },
}
ADMIN_DEVICE = {
    "type": "object",
    "required": ["id", "name", "kind", "branch", "state", "last_seen_at", "demo"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "kind": {"enum": ["kiosk", "display"]},
        "branch": {"type": ["string", "null"]},
        "state": {"enum": ["active", "revoked"]},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
        "last_seen_at": {"type": ["string", "null"], "format": "date-time",
                         "description": "latest authenticated request or socket (noted at most once a minute)"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "demo": {"type": "boolean", "description": "created by demo mode"},
    },
}
AUDIT_ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "description": "?before= this id gives the next (older) page"},
        "at": {"type": "string", "format": "date-time"},
        "via": {"enum": ["api", "cli"], "description": "the admin page/API, or the command line"},
        "actor": {"type": "string", "description": "the admin's username, or the OS user of the command"},
        "actor_staff_id": {"type": ["integer", "null"]},
        "action": {"enum": ["staff_added", "staff_updated", "staff_disabled", "staff_enabled", "password_reset",
                            "role_changed", "device_added", "device_token_replaced", "device_revoked"]},
        "target_kind": {"enum": ["staff", "device"]},
        "target": {"type": "string", "description": "username or device name"},
        "branch": {"type": ["string", "null"]},
        "detail": {"type": "object"},
    },
}
_WITH_PASSWORD = {"type": "object", "properties": {
    "staff": {"$ref": "#/components/schemas/AdminStaff"},
    "password": {"type": ["string", "null"], "description": "the generated password, shown once (null when the "
                                                            "admin gave one)"},
}}
_PAIRING = {"type": "object", "properties": {
    "device": {"$ref": "#/components/schemas/AdminDevice"},
    "token": {"type": "string", "description": "the device token, shown once (only its hash is kept)"},
    "pairing_url": {"type": "string", "description": "<public_url>/<kind>?device=<token>"},
    "qr_svg": {"type": "string", "description": "the pairing URL's QR code, a data:image/svg+xml URL"},
    "replaced": {"type": "boolean", "description": "the device existed: its old token and sockets ended"},
}}
_NO_STORE = {"Cache-Control": {"description": "no-store: the answer carries a secret", "schema": {"type": "string"}}}
ADMIN_SCHEMAS = {"AdminStaff": ADMIN_STAFF, "AdminDevice": ADMIN_DEVICE, "AuditEntry": AUDIT_ENTRY}
ADMIN_PATH_PARAMETERS = {"staff_id": (_ROW_ID, "the account's id"), "device_id": (_ROW_ID, "the device's id")}
_ADMIN_BRANCH = ("branch", {"type": "string"}, "only this branch's (staff: and the admins of every branch)")
ADMIN_QUERY_PARAMETERS: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {
    ("get", "/admin/staff"): [_ADMIN_BRANCH],
    ("get", "/admin/devices"): [_ADMIN_BRANCH],
    ("get", "/admin/audit"): [
        ("limit", {"type": "integer", "minimum": 1, "maximum": AUDIT_PAGE_MAX, "default": 100}, "how many"),
        ("before", _ROW_ID, "entries older than this id (the last id of the page before)"),
    ],
}


def _secret_op(summary: str, body: Any, schema: dict[str, Any], ok: str) -> dict[str, Any]:
    op = _op(summary, "admin", body=body, ok=ok)
    op["responses"][ok]["content"] = {"application/json": {"schema": schema}}
    op["responses"][ok]["headers"] = _NO_STORE
    return op


def admin_paths() -> dict[str, Any]:
    """The admin endpoints (every one for admins only: 401 without a log-in, 403 for anyone else)."""
    one = "/admin/staff/{staff_id}"
    return {
        "/admin/staff": {
            "get": _op("Staff accounts with role, branch, state and last seen", "admin", answer="[AdminStaff]"),
            "post": _secret_op("Add an account (409 username_taken); without a password one is generated and "
                               "answered once", StaffAddBody, _WITH_PASSWORD, "201"),
        },
        f"{one}/disable": {"post": _op(
            "Disable: no more log-ins; its tokens and open sockets end at once (409 own_account, last_admin, "
            "already_disabled)", "admin", answer="AdminStaff")},
        f"{one}/enable": {"post": _op("Enable a disabled account (409 already_active)", "admin",
                                      answer="AdminStaff")},
        f"{one}/password": {"post": _secret_op(
            "Reset the password (generated unless given, answered once); every log-in of it ends", PasswordBody,
            _WITH_PASSWORD, "200")},
        f"{one}/role": {"post": _op("Change the role (and branch); its log-ins end (409 own_account, last_admin, "
                                    "unchanged)", "admin", body=RoleBody, answer="AdminStaff")},
        "/admin/devices": {
            "get": _op("Kiosks and displays with state and last seen", "admin", answer="[AdminDevice]"),
            "post": _secret_op("Add a device, or give one a new token (the old one and its sockets end): the "
                               "token once, its pairing URL and QR code", DeviceAddBody, _PAIRING, "201"),
        },
        "/admin/devices/{device_id}/revoke": {"post": _op(
            "Revoke: its token stops working and its sockets end at once (409 already_revoked)", "admin",
            answer="AdminDevice")},
        "/admin/audit": {"get": _op("The audit log of administrative actions, newest first (?limit=, ?before=)",
                                    "admin", answer="[AuditEntry]")},
    }


def _counter_op(summary: str, body: Any = None, answer: str = "Counter") -> dict[str, Any]:
    return {"post": _op(summary, "the teller signed in at the counter, or a manager", body=body, answer=answer)}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    n = "/counters/{number}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Callwise API",
            "version": "1",
            "description": "Queue calling for bank branches. Errors are always "
            '{"error": {"code", "message"}}. Staff authenticate with a bearer token from /auth/login '
            "(or its session cookie plus X-CSRF-Token on changes); devices with their device token. "
            "Admins name another branch with ?branch=CODE. No text may hold a NUL character (U+0000): "
            "422 bad_text in a body, 400 nul_character in the path, the query or a header.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Ticket": TICKET, "Counter": COUNTER, "Service": SERVICE, "Alert": ALERT, "Branch": BRANCH,
                        "Instruction": INSTRUCTION, "Complaint": COMPLAINT, "Error": ERROR,
                        "QueueItem": QUEUE_ITEM, "Queue": QUEUE, "Context": CONTEXT, "Rating": RATING,
                        **ADMIN_SCHEMAS},
        },
        "security": [{"bearer": []}],
        "paths": _with_parameters({
            "/health": {"get": _op("Liveness and database check (503 when the database does not answer)", "anyone",
                                   answer=HEALTH)},
            "/auth/login": {"post": _op(
                "Log in (rate limited per address, 429 rate_limited; and per account, 429 login_throttled after too "
                "many failed log-ins; both with Retry-After). Sets a browser-session cookie", "staff", body=LoginBody,
                answer=LOGIN, limited=True)},
            "/auth/logout": {"post": _op("Log out", "staff", answer={
                "type": "object", "required": ["logged_out"], "properties": {"logged_out": {"type": "string"}}})},
            "/auth/me": {"get": _op("Who am I", "staff or device", answer=ME)},
            "/branch": {"get": _op("The branch: name, languages, time zone, hours, and the vocabulary with its labels",
                                   "anyone", answer="Branch")},
            "/services": {"get": _op("Services with waiting count and estimated wait", "anyone", answer="[Service]")},
            "/queue": {"get": _op("Per service: the waiting tickets in call order, then the held ones, with "
                                  "waited, priority, at-risk and the note for the next teller", "staff",
                                  answer="Queue")},
            "/tickets": {
                "post": _op(
                    "Issue a ticket (header Idempotency-Key makes retries safe; the same key with another service, "
                    "lang or priority is 422 idempotency_key_reused; rate limited per kiosk; 409 "
                    "branch_closed outside the hours, in the request's language, naming the next opening); "
                    "priority: true for a priority customer",
                    "kiosk device, or staff (a ticket issued at the desk)", body=IssueBody, answer="Ticket", ok="201",
                    limited=True,
                )
            },
            "/tickets/{token}": {"get": _op("A ticket with live position and estimate", "its holder", answer="Ticket")},
            "/tickets/{token}/rating": {"post": _op("Rate the finished service once (1-5 stars, comment; 10 a "
                                                    "minute per address)", "its holder", body=RatingBody,
                                                    answer="Ticket", limited=True)},
            "/tickets/{token}/cancel": {"post": _op(
                "Leave the queue (a waiting or held ticket; cancel_reason customer; 409 not_waiting once called; "
                "10 a minute per address)", "its holder", answer="Ticket", limited=True)},
            "/tickets/{ticket_id}/return": {"post": _op(
                "A no-show who came back: waiting again at the front of its service (409 not_no_show)", "staff",
                answer="Ticket")},
            "/tickets/{ticket_id}/context": {"get": _op(
                "The customer's context for the teller: waited, language, priority, history with notes, what "
                "the lobby recorded", "staff", answer="Context")},
            "/ratings": {"get": _op("The latest ratings with comments, counter and teller, newest first", "manager",
                                    answer="[Rating]")},
            "/tickets/{token}/qr.svg": {"get": _op("QR code of the tracking URL (SVG)", "its holder",
                                                   answer={"type": "string"}, media_type="image/svg+xml")},
            "/tickets/{token}/qr.png": {"get": _op("QR code of the tracking URL (PNG)", "its holder",
                                                   answer={"type": "string", "contentMediaType": "image/png"},
                                                   media_type="image/png")},
            "/counters": {"get": _op("Counters", "staff, display", answer="[Counter]")},
            f"{n}/open": {"post": _op("Sign in at the counter", "staff", answer="Counter")},
            f"{n}/call-next": _counter_op("Call the next customer (404 queue_empty)", answer="Ticket"),
            f"{n}/call": _counter_op("Call this waiting or held ticket (409 not_waiting if another counter has "
                                     "just called it; 403 not_your_service)", body=CallBody, answer="Ticket"),
            f"{n}/hold": _counter_op("The current customer steps aside (held, out of the queue, number kept) "
                                     "with a note; back only by call", body=HoldBody, answer="Ticket"),
            f"{n}/undo": _counter_op("Undo the counter's last complete or no-show within the undo window "
                                     "(409 nothing_to_undo, undo_expired)", answer="Ticket"),
            f"{n}/recall": _counter_op("Call the current customer again", answer="Ticket"),
            f"{n}/start": _counter_op("Service starts", answer="Ticket"),
            f"{n}/complete": _counter_op("Finish with an outcome", body=CompleteBody, answer="Ticket"),
            f"{n}/no-show": _counter_op("The called customer did not come (409 too_early within the grace after "
                                        "the call)", answer="Ticket"),
            f"{n}/transfer": _counter_op("Move the ticket to another service's queue (service) or to a counter's "
                                         "own queue (counter), with a note for the next teller", body=TransferBody,
                                         answer="Ticket"),
            f"{n}/pause": _counter_op("Pause with a reason", body=PauseBody),
            f"{n}/resume": _counter_op("End the pause"),
            f"{n}/request-help": _counter_op("Page the manager about the current customer, with a reason",
                                             body=HelpBody),
            f"{n}/instruct": {"post": _op("Send the teller at the counter an instruction; they hear Socket.IO "
                                          "'instruction' and must answer", "manager", body=InstructBody,
                                          answer="Instruction", ok="201")},
            "/instructions": {"get": _op("Managers: unanswered instructions and those answered in the last ten "
                                         "minutes; tellers: their counter's unanswered ones", "staff",
                                         answer="[Instruction]")},
            "/instructions/{instruction_id}/ack": {"post": _op(
                "Answer an instruction: done, or cannot with a reason; managers hear 'instruction_answered'",
                "the teller signed in at its counter", body=InstructionAnswerBody, answer="Instruction")},
            "/alerts/{alert_id}/respond": {"post": _op(
                "Answer a help request: on_my_way (teller and phone hear it), then done (resolves it)", "manager",
                body=RespondBody, answer="Alert")},
            "/complaints": {
                "post": _op("Record a complaint", "staff", body=ComplaintBody, answer="Complaint", ok="201"),
                "get": _op("Complaints recorded ?from=DATE&to=DATE (default today)", "manager",
                           answer="[Complaint]"),
            },
            f"{n}/close": _counter_op("Sign out"),
            "/alerts": {"get": _op("Alerts: ?state=open (severity, then age) or ?state=all (newest first, ?limit=)",
                                   "manager", answer="[Alert]")},
            "/alerts/{alert_id}/ack": {"post": _op("Acknowledge (stops reminders; a help request is answered with "
                                                   "/respond)", "manager", answer="Alert")},
            "/announcements/voice.wav": {"get": _op(
                "A call announcement spoken by the server (espeak-ng) as audio/wav, for a display without a "
                "speech voice; the words are the server's, from ?number=&counter=&lang=[&recall=1] "
                "(503 no_voice without espeak-ng)", "display, staff",
                answer={"type": "string", "contentMediaType": "audio/wav"}, media_type="audio/wav")},
            "/clock": {"get": _op("Manual clock time (404 unless [clock] mode = manual)",
                                "manager of every branch served (several: an admin; else 403 not_your_branch)",
                                answer=CLOCK)},
            "/clock/advance": {
                "post": _op("Advance the manual clock and evaluate what is due",
                            "manager of every branch served (several: an admin; else 403 not_your_branch)",
                            body=AdvanceBody, answer=CLOCK)
            },
            "/reports/daily": {"get": _answering(_op(
                "The day's figures (?date=YYYY-MM-DD, default today in the branch's time zone; 422 bad_date)",
                "manager or admin"), "application/json", DAILY_REPORT)},
            "/reports/range": {"get": _answering(_op(
                "Figures per day, per ISO week and in total over ?from=DATE&to=DATE (both included, at most 93 "
                "days; default today): tickets, waits, service level, outcomes, ratings, alerts per rule, "
                "complaints per kind and how many an alert had warned of (422 bad_date, bad_range)",
                "manager or admin"), "application/json", RANGE_REPORT)},
            "/reports/range.csv": {"get": _answering(_op(
                "The range report as CSV for Excel (UTF-8 with BOM; ?from=, ?to= as above, ?lang=zh|en): the total, "
                "by day, by week and the complaints in sections, or ?table=days|weeks|complaints alone",
                "manager or admin"), "text/csv", {"type": "string"})},
            "/reports/daily.csv": {"get": _answering(_op(
                "The daily report as CSV for Excel (UTF-8 with BOM; ?date= as above, ?lang=zh|en). Sections, "
                "each a title row, a header row, data rows and an empty row: summary, by service, tickets per "
                "hour, by teller, by counter, pauses by reason, alerts by rule, ratings with their comments. "
                "Durations in seconds, shares in percent", "manager or admin"), "text/csv", {"type": "string"})},
            "/openapi.json": {"get": _op("This document", "anyone", answer={
                "type": "object", "required": ["openapi", "info", "paths"], "additionalProperties": True})},
            **admin_paths(),
        }),
    }


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """This API's OpenAPI document."""
    return jsonify(document())
