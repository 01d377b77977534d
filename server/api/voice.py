"""The server's voice for the lobby display (server/lobby/voice.py): a call announcement as WAV."""

from __future__ import annotations

from flask import Response, request
from flask.typing import ResponseReturnValue

from server.api import bp
from server.api.common import branch_id_for, current_actor, runtime
from server.errors import Forbidden, Invalid, Unauthorized, Unavailable
from server.lobby.voice import TICKET_NUMBER, Voice, VoiceUnavailable, call_text


@bp.get("/announcements/voice.wav")
def announcement_voice() -> ResponseReturnValue:
    """``?number=A012&counter=3&lang=zh[&recall=1]``: the call said in ``lang`` (displays and staff).
    The words are the server's own, from a valid ticket number and one of the branch's counters;
    503 ``no_voice`` when espeak-ng is not installed or fails."""
    actor = current_actor()
    if actor.kind == "anonymous":
        raise Unauthorized("a display device token is needed", code="device_required")
    if not (actor.is_device("display") or actor.is_staff):
        raise Forbidden("only a display or staff may do this", code="display_only")
    rt = runtime()
    config = rt.config_for(branch_id_for(actor))
    number = request.args.get("number", "")
    lang = request.args.get("lang", "")
    try:
        counter = int(request.args.get("counter", ""))
    except ValueError:
        raise Invalid("counter: a counter number", code="invalid") from None
    if not TICKET_NUMBER.match(number):
        raise Invalid("number: a ticket number such as A012", code="invalid")
    if counter not in {c.number for c in config.counters}:
        raise Invalid(f"counter: the branch has no counter {counter}", code="invalid")
    if lang not in config.branch.languages:
        raise Invalid(f"lang: one of {', '.join(config.branch.languages)}", code="invalid")
    text = call_text(number, counter, lang, recall=request.args.get("recall") in ("1", "true"))
    voice: Voice = rt.caches.setdefault("voice", Voice())
    try:
        audio = voice.wav(text, lang)
    except VoiceUnavailable as exc:
        raise Unavailable(str(exc), code="no_voice") from None
    response = Response(audio, mimetype="audio/wav")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
