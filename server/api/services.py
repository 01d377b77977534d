"""Services and queues: what the kiosk offers and what staff see waiting."""

from __future__ import annotations

from flask import jsonify

from server.api import bp
from server.api.common import branch_id_for, current_actor, require_staff, runtime
from server.queueing import queries


@bp.get("/services")
def list_services():  # type: ignore[no-untyped-def]
    """Every active service with its documents, waiting count and the wait a new ticket would get."""
    rt = runtime()
    branch_id = branch_id_for(current_actor())
    with rt.reading() as session:
        return jsonify(queries.services_with_estimates(session, rt.config, branch_id, rt.clock.now()))


@bp.get("/queue")
def queue():  # type: ignore[no-untyped-def]
    """Waiting tickets per service, in call order (staff only)."""
    rt = runtime()
    branch_id = branch_id_for(require_staff())
    with rt.reading() as session:
        return jsonify({"services": queries.waiting_tickets(session, rt.config, branch_id, rt.clock.now())})
