"""Services and queues: what the kiosk offers and what staff see waiting."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from server import vocabulary
from server.api import bp
from server.api.common import branch_id_for, current_actor, require_staff, runtime
from server.lobby import voice
from server.models import Branch
from server.queueing import reads
from server.queueing.hours import hours_now
from server.vocabulary import OUTCOMES, PAUSE_REASONS


@bp.get("/services")
def list_services() -> ResponseReturnValue:
    """Every active service with its documents, waiting count and the wait a new ticket would get."""
    rt = runtime()
    branch_id = branch_id_for(current_actor())
    with rt.reading() as session:
        return jsonify(reads.services_with_estimates(session, rt.config_for(branch_id), branch_id, rt.clock.now()))


@bp.get("/queue")
def queue() -> ResponseReturnValue:
    """Per service: its waiting tickets in call order, then those held at a counter, each with how
    long it has waited, whether it is a priority ticket or at risk, and the note for the next
    teller (staff only)."""
    rt = runtime()
    branch_id = branch_id_for(require_staff())
    with rt.reading() as session:
        return jsonify({"services": reads.waiting_tickets(session, rt.config_for(branch_id), branch_id,
                                                            rt.clock.now())})


@bp.get("/branch")
def branch() -> ResponseReturnValue:
    """What every screen needs to know about the branch: name, languages, time zone, opening hours,
    the alert thresholds screens show, and ``vocabulary``: every closed word list with its labels
    (server/vocabulary.py), which screens show instead of keeping their own copies. ``pause_reasons``
    and ``outcomes`` are the older, shorter form of two of those lists (anyone)."""
    rt = runtime()
    branch_id = branch_id_for(current_actor())
    config = rt.config_for(branch_id)
    with rt.reading() as session:
        row = session.get(Branch, branch_id)
        assert row is not None
        return jsonify({
            "code": row.code,
            "name": row.name,
            "languages": row.languages,
            "timezone": row.timezone,
            "opening_time": config.branch.opening_time.isoformat(timespec="minutes"),
            "closing_time": config.branch.closing_time.isoformat(timespec="minutes"),
            "last_ticket_time": config.hours.last_ticket.isoformat(timespec="minutes"),
            "open_days": list(config.branch.open_days),
            "closed_dates": [day.isoformat() for day in config.branch.closed_dates],
            "hours": hours_now(config.hours, rt.clock.now()).as_dict(),
            "pause_reasons": [{"code": code, "name": PAUSE_REASONS.phrase(code)} for code in PAUSE_REASONS.codes],
            "outcomes": [{"code": code, "name": OUTCOMES.label(code)} for code in OUTCOMES.codes],
            "clock": "manual" if rt.clock.manual else "system",
            "now": rt.clock.now().isoformat(),
            "service_overrun_factor": config.alerts.service_overrun_factor,
            "short_queue_complaint_s": config.alerts.short_queue_complaint_s,
            "vocabulary": vocabulary.as_json(),
            # The counter's rules: priority share, the no-show grace and the undo window.
            "queue": {"priority_share": config.queue.priority_share, "no_show_grace_s": config.queue.no_show_grace_s,
                      "undo_window_s": config.queue.undo_window_s},
            # The lobby display: its idle screen, and who speaks the calls (server/lobby/voice.py).
            "display": {"idle_after_s": config.display.idle_after_s, "voice": config.display.voice,
                        "server_voice": voice.available()},
        })
