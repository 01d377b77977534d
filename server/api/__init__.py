"""The JSON API under /api/v1 (contract: API.md; reference: /api/v1/openapi.json)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from server.api import (  # noqa: E402,F401  (routes register on bp)
    alerts,
    auth,
    clock,
    counters,
    health,
    lobby,
    openapi,
    reports,
    services,
    tickets,
    voice,
)
