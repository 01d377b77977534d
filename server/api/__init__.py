"""The JSON API under /api/v1 (contract: API.md; reference: /api/v1/openapi.json)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from server.api import alerts, auth, clock, counters, health, openapi, services, tickets  # noqa: E402,F401  (routes register on bp)
from server.api import reports  # noqa: E402,F401  (the daily report)
