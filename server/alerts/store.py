"""Small reads of the alerts table that other parts of the server need."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Alert

AT_RISK_RULES = ("short_queue_long_wait", "eta_broken")


def at_risk_ticket_ids(session: Session, branch_id: int) -> list[int]:
    """Tickets with an open short_queue_long_wait or eta_broken alert (call-next serves them first
    under the ``at_risk_first`` policy)."""
    return [
        int(ticket_id)
        for ticket_id in session.scalars(
            select(Alert.ticket_id).where(
                Alert.branch_id == branch_id,
                Alert.resolved_at.is_(None),
                Alert.rule.in_(AT_RISK_RULES),
                Alert.ticket_id.is_not(None),
            )
        )
    ]
