"""The manual clock, for tests and the simulator. With the system clock these answer 404."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from pydantic import Field

from server import rooms
from server.actors import Actor
from server.api import bp
from server.api.common import StrictBody, parse_body, require_manager, runtime
from server.clock import ManualClock
from server.errors import Forbidden, NotFound

MAX_ADVANCE_S = 7 * 24 * 3600


class AdvanceBody(StrictBody):
    seconds: float = Field(gt=0, le=MAX_ADVANCE_S)


def _manual_clock() -> ManualClock:
    clock = runtime().clock
    if not isinstance(clock, ManualClock):
        raise NotFound("the clock is not manual here", code="not_found")
    return clock


def _require_manager_of_every_branch() -> Actor:
    """The manual clock is one per server process, shared by every branch it serves: moving it moves
    every branch's day (alerts fire, tickets expire) and reading it tells the time of all. So only a
    manager of every one of them may: with one branch, its manager (as the tests and the simulator
    do); with several, an admin of all. A manager of one branch of several is 403 ``not_your_branch``."""
    actor = require_manager()
    if not all(actor.may_see_branch(branch_id) for branch_id in runtime().branch_ids.values()):
        raise Forbidden("this server's manual clock is shared by every branch it serves: "
                        "only an admin of all of them may read or move it", code="not_your_branch")
    return actor


@bp.get("/clock")
def get_clock() -> ResponseReturnValue:
    """The manual clock's time (a manager of every branch the server serves)."""
    clock = _manual_clock()
    _require_manager_of_every_branch()
    return jsonify({"mode": "manual", "now": clock.now().isoformat()})


@bp.post("/clock/advance")
def advance_clock() -> ResponseReturnValue:
    """Move the manual clock forward and run what the new time makes due before answering (a manager
    of every branch the server serves)."""
    clock = _manual_clock()
    _require_manager_of_every_branch()
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
