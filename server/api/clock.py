"""The manual clock, for tests and the simulator. With the system clock these answer 404."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import Field

from server import rooms
from server.api import bp
from server.api.common import StrictBody, parse_body, require_manager, runtime
from server.clock import ManualClock
from server.errors import NotFound

MAX_ADVANCE_S = 7 * 24 * 3600


class AdvanceBody(StrictBody):
    seconds: float = Field(gt=0, le=MAX_ADVANCE_S)


def _manual_clock() -> ManualClock:
    clock = runtime().clock
    if not isinstance(clock, ManualClock):
        raise NotFound("the clock is not manual here", code="not_found")
    return clock


@bp.get("/clock")
def get_clock() -> ResponseReturnValue:
    """The manual clock's time (managers)."""
    clock = _manual_clock()
    require_manager()
    return jsonify({"mode": "manual", "now": clock.now().isoformat()})


@bp.post("/clock/advance")
def advance_clock() -> ResponseReturnValue:
    """Move the manual clock forward and run what the new time makes due before answering."""
    clock = _manual_clock()
    require_manager()
    body = parse_body(AdvanceBody)
    now = clock.advance(body.seconds)
    rt = runtime()
    for listener in rt.time_listeners:
        listener(now)
    # Screens keep time by the server's clock: tell them it jumped (timers, ages and overrun colours).
    for branch_id in rt.branch_ids.values():
        rt.publisher.publish("clock_changed", {"now": now.isoformat()}, [
            rooms.displays(branch_id), rooms.kiosks(branch_id), rooms.staff(branch_id), rooms.phones(branch_id),
        ])
    return jsonify({"mode": "manual", "now": now.isoformat()})
