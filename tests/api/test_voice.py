"""The server's voice (server/lobby/voice.py): a display PC whose browser has no speech voice hears
the call rendered by espeak-ng. The words are the server's own, built from a ticket number and a
counter; nothing a client sends is spoken, and nothing reaches a shell."""

from __future__ import annotations

import shutil
import struct

import pytest

from server.lobby.voice import Voice, VoiceUnavailable, call_text

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed "
                                  "(apt-get install espeak-ng; `make test` requires it)")


def wav_facts(body: bytes) -> tuple[int, int, int]:
    """(RIFF size, channels, data bytes) of a WAV body, checking its headers on the way."""
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and body[12:16] == b"fmt "
    riff_size = struct.unpack("<I", body[4:8])[0]
    channels = struct.unpack("<H", body[22:24])[0]
    data_at = body.find(b"data", 12)
    assert data_at > 0
    data_size = struct.unpack("<I", body[data_at + 4:data_at + 8])[0]
    assert data_at + 8 + data_size == len(body)
    return riff_size, channels, data_size


@needs_espeak
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_display_gets_the_call_as_a_real_wav_in_each_language(api, lang):
    response = api.get(f"/announcements/voice.wav?number=A012&counter=3&lang={lang}", "display")
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "audio/wav"
    riff_size, channels, data_size = wav_facts(response.data)
    assert riff_size == len(response.data) - 8 and channels == 1
    assert data_size > 22050  # more than half a second of 22 kHz 16-bit speech


@needs_espeak
def test_the_same_call_is_rendered_once_and_each_language_differs(api, app):
    zh = api.get("/announcements/voice.wav?number=B104&counter=2&lang=zh", "display").data
    en = api.get("/announcements/voice.wav?number=B104&counter=2&lang=en", "display").data
    assert zh != en
    voice = app.extensions["callwise"].caches["voice"]
    assert set(voice._cache) == {("zh", call_text("B104", 2, "zh")), ("en", call_text("B104", 2, "en"))}
    voice.program = "no-such-espeak-here"  # a second ask is answered from the cache, without espeak-ng
    assert api.get("/announcements/voice.wav?number=B104&counter=2&lang=zh", "display").data == zh


@pytest.mark.parametrize("query", [
    "number=A012;rm%20-rf&counter=3&lang=zh",   # not a ticket number
    "number=--help&counter=3&lang=en",
    "number=A012&counter=99&lang=zh",          # no such counter in the branch
    "number=A012&counter=x&lang=zh",
    "number=A012&counter=3&lang=fr",           # not one of the branch's languages
])
def test_only_a_ticket_number_a_counter_and_a_language_of_the_branch_are_accepted(api, query):
    response = api.get(f"/announcements/voice.wav?{query}", "display")
    assert response.status_code == 422, response.get_json()


def test_a_kiosk_or_anyone_cannot_ask_for_the_voice(api):
    assert api.get("/announcements/voice.wav?number=A012&counter=3&lang=zh", "kiosk").status_code == 403
    assert api.get("/announcements/voice.wav?number=A012&counter=3&lang=zh").status_code == 401


def test_without_espeak_the_voice_says_it_is_unavailable(api, app):
    app.extensions["callwise"].caches["voice"] = Voice(program="no-such-espeak-here")
    response = api.get("/announcements/voice.wav?number=A013&counter=3&lang=zh", "display")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "no_voice"
    with pytest.raises(VoiceUnavailable):
        Voice(program="no-such-espeak-here").wav("x", "en")


def test_the_branch_tells_the_display_its_idle_time_and_voice(api):
    display = api.get("/branch", "display").get_json()["display"]
    assert display == {"idle_after_s": 600, "voice": "auto", "server_voice": shutil.which("espeak-ng") is not None}
