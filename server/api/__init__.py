"""The JSON API under /api/v1 (contract: API.md; reference: /api/v1/openapi.json)."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from server.api.common import refuse_nul_characters, require_json_content_type
from server.api.converters import CONVERTERS

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _register_converters(state: BlueprintSetupState) -> None:
    """The bounded path numbers (server/api/converters.py), known to the app before any route is added."""
    state.app.url_map.converters.update(CONVERTERS)


bp.before_request(refuse_nul_characters)
bp.before_request(require_json_content_type)


from server.api import (  # noqa: E402,F401  (routes register on bp)
    admin,
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
