"""The server's voice: a call announcement rendered to WAV by espeak-ng, for a display PC whose
browser has no speech voice for the branch's languages (many Linux and kiosk builds have none).

The words are built here from a ticket number and a counter number, both checked against what a
branch can issue, never from text a client sends; espeak-ng runs from an argument list (no shell)
with a time limit. Renders are kept per text: a hall hears the same few hundred calls every day.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

ESPEAK = "espeak-ng"
VOICES = {"zh": "cmn", "en": "en-gb"}
RENDER_TIMEOUT_S = 10.0
CACHE_ENTRIES = 512  # about 100 KB each
TICKET_NUMBER = re.compile(r"^[A-Z]{1,2}[0-9]{3,4}$")  # server/queueing/numbering.py's numbers


class VoiceUnavailable(Exception):
    """espeak-ng is not installed, or it failed or took too long."""


def spoken_number(number: str) -> str:
    """"A012" -> "A 0 1 2": a ticket number read sign by sign, as staff say it (display_ui/announcer.js)."""
    return " ".join(number)


def call_text(number: str, counter: int, lang: str, *, recall: bool = False) -> str:
    """What is said for a call, in ``lang`` (the same words as display_ui/announcer.js)."""
    if not TICKET_NUMBER.match(number):
        raise ValueError(f"not a ticket number: {number!r}")
    said = spoken_number(number)
    if lang == "zh":
        return f"{'再次呼叫，' if recall else ''}请 {said} 号到 {counter} 号窗口"
    if lang == "en":
        return f"{'Recall: ticket' if recall else 'Ticket'} {said}, please go to counter {counter}"
    raise ValueError(f"no voice for language {lang!r}")


def available() -> bool:
    """Whether espeak-ng is installed here."""
    return shutil.which(ESPEAK) is not None


@dataclass
class Voice:
    """espeak-ng behind a small cache of rendered WAV files, keyed by language and text."""

    program: str = ESPEAK
    timeout_s: float = RENDER_TIMEOUT_S
    entries: int = CACHE_ENTRIES
    _cache: OrderedDict[tuple[str, str], bytes] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wav(self, text: str, lang: str) -> bytes:
        """``text`` spoken in ``lang`` as a WAV file's bytes (a RIFF/WAVE body)."""
        key = (lang, text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        audio = self._render(text, lang)
        with self._lock:
            self._cache[key] = audio
            while len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return audio

    def _render(self, text: str, lang: str) -> bytes:
        program = shutil.which(self.program)
        if program is None:
            raise VoiceUnavailable(f"{self.program} is not installed (apt-get install espeak-ng)")
        # "--": the text is an argument, never an option, whatever it starts with.
        command = [program, "-v", VOICES[lang], "-s", "140", "--stdout", "--", text]
        try:
            done = subprocess.run(command, capture_output=True, timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VoiceUnavailable(f"{self.program} failed: {exc}") from None
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            raise VoiceUnavailable(f"{self.program} failed ({done.returncode}): {done.stderr[:200]!r}")
        return _sized(done.stdout)


def _sized(wav: bytes) -> bytes:
    """espeak-ng writing to a pipe cannot go back to fill in the sizes: it leaves 0x7ffff000 in
    the RIFF and data headers. Write the real ones, which strict decoders want."""
    data_at = wav.find(b"data", 12)
    if data_at < 0:
        raise VoiceUnavailable("espeak-ng wrote no data chunk")
    fixed = bytearray(wav)
    fixed[4:8] = (len(wav) - 8).to_bytes(4, "little")
    fixed[data_at + 4:data_at + 8] = (len(wav) - data_at - 8).to_bytes(4, "little")
    return bytes(fixed)
