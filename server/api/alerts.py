"""Alerts: what the lobby manager is warned about, and acknowledging them."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from server.alerts.engine import list_alerts
from server.api import bp
from server.api.common import StrictBody, branch_id_for, parse_body, parse_whole_number, require_manager, runtime
from server.errors import Invalid


@bp.get("/alerts")
def alerts() -> ResponseReturnValue:
    """``?state=open`` (default: most severe, then oldest, first) or ``?state=all`` (newest first,
    up to ``?limit=``, default 500). Managers only."""
    actor = require_manager()
    state = request.args.get("state", "open")
    if state not in ("open", "all"):
        raise Invalid("state is 'open' or 'all'", code="bad_state")
    limit = parse_whole_number(request.args.get("limit"), "limit", 1, 5000, 500) or 500
    return jsonify(list_alerts(runtime(), branch_id_for(actor), state, limit))


@bp.post("/alerts/<id:alert_id>/ack")
def acknowledge(alert_id: int) -> ResponseReturnValue:
    """Acknowledge an alert (stops reminders; answers a help request). 409 if already resolved."""
    actor = require_manager()
    parse_body(StrictBody)
    engine = runtime().alerts
    return jsonify(engine.acknowledge(actor, branch_id_for(actor), alert_id))
