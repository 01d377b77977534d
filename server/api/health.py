"""Health: is the server up and can it reach its database."""

from __future__ import annotations

import os

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from server.api import bp
from server.api.common import runtime


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 with the server's state when the database answers; 503 (JSON error) when it does not."""
    rt = runtime()
    with rt.reading() as session:
        session.execute(text("SELECT 1"))
    return jsonify(
        {
            "status": "ok",
            "branch": rt.config.branch.code,
            "branches": [spec.code for spec in rt.config.branches],
            "database": rt.db.dialect,
            "clock": "manual" if rt.clock.manual else "system",
            "now": rt.clock.now().isoformat(),
            "mode": rt.config.server.mode,
            "pid": os.getpid(),
            "sweeper": bool(rt.alerts.sweeping) if rt.alerts is not None else False,
            "sweeps": rt.alerts.sweeps if rt.alerts is not None else 0,
        }
    )
