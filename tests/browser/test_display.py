"""The lobby display: pairing, calls shown and announced, recalls marked, queue counts, and catching up
by itself after the server went away — in Chromium against a real server, the teller driven over HTTP.

Speech is checked through a stand-in for the Web Speech API (installed before the page loads) that
has a Chinese and an English voice and records what it is asked to say; the page's aria-live region
carries the same text for screen readers and for the tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import branch_server
from tests.support.callwise import CallwiseServer

TELLER, COUNTER = "lin", 1           # counter 1 serves A and B (tests/branch.toml)
TV = (1920, 1080)
CALLS = 14                           # tickets waiting for counter 1; the tests call 12
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"

# A Web Speech API with one Chinese and one English voice that "speaks" at once and remembers what.
FAKE_SPEECH = """
(() => {
  const spoken = [];
  window.__spoken = spoken;
  const voices = [
    { name: "Test Mandarin", lang: "zh-CN", localService: true, default: false, voiceURI: "test-zh" },
    { name: "Test English", lang: "en-GB", localService: true, default: true, voiceURI: "test-en" },
  ];
  class Utterance extends EventTarget {
    constructor(text) { super(); this.text = text; this.lang = ""; this.voice = null; this.rate = 1;
                        this.onend = null; this.onerror = null; }
  }
  const synth = {
    speaking: false, pending: false, paused: false,
    getVoices: () => voices,
    speak(utterance) {
      spoken.push({ text: utterance.text, lang: utterance.lang, voice: utterance.voice && utterance.voice.name });
      setTimeout(() => utterance.onend && utterance.onend({ type: "end" }), 20);
    },
    cancel() {}, pause() {}, resume() {}, addEventListener() {}, removeEventListener() {},
  };
  Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
  Object.defineProperty(window, "SpeechSynthesisUtterance", { value: Utterance, configurable: true });
})();
"""

# No Web Speech at all, and an AudioContext that the browser keeps suspended until someone taps.
NO_SPEECH_AND_AUDIO_BLOCKED = """
(() => {
  Object.defineProperty(window, "speechSynthesis", { value: undefined, configurable: true });
  Object.defineProperty(window, "SpeechSynthesisUtterance", { value: undefined, configurable: true });
  class Blocked {
    constructor() { this.state = "suspended"; this.currentTime = 0; }
    resume() { return new Promise(() => {}); }
  }
  Object.defineProperty(window, "AudioContext", { value: Blocked, configurable: true });
})();
"""

# What Chromium itself logs while the server is down: failed connections, not faults of the page.
OUTAGE_NOISE = re.compile(
    r"WebSocket connection to .* failed"
    r"|net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED|CONNECTION_RESET|EMPTY_RESPONSE)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(
        tmp_path_factory, "display", staff={TELLER: "teller"}, devices={"lobby": "display", "door": "kiosk"}
    )


class Teller:
    """The teller at counter 1, driven over HTTP as the console would (that page is not under test)."""

    def __init__(self, server: CallwiseServer) -> None:
        self.server = server
        self.calls = 0

    def _post(self, action: str, **body: Any) -> dict[str, Any]:
        response = self.server.post(f"/counters/{COUNTER}/{action}", who=TELLER, json=body or None)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def call_next(self) -> str:
        """Serve the current customer at once (a no-show would wait out its grace) and call the next;
        the called number."""
        if self.calls:
            self._post("start")
            self._post("complete", outcome="done")
        self.calls += 1
        return str(self._post("call-next")["number"])

    def recall(self) -> None:
        self._post("recall")


@pytest.fixture(scope="module")
def teller(server: CallwiseServer) -> Teller:
    """Counter 1 open, with tickets waiting for it (more than the tests call)."""
    response = server.post(f"/counters/{COUNTER}/open", who=TELLER)
    assert response.status_code == 200, response.text
    for _ in range(CALLS):
        server.issue("A", "door")
    return Teller(server)


# --- helpers -----------------------------------------------------------------------------------------


def open_display(server: CallwiseServer, open_page: Any, *, init_script: str | None = FAKE_SPEECH) -> Any:
    """A TV-sized page paired with the display token, once its first snapshot is on screen."""
    page = open_page(viewport=TV)
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{server.base_url}/display?device={server.tokens['lobby']}")
    page.wait_for_selector("body[data-snapshots='1']")
    return page


def wait_for_current(page: Any, number: str, counter: int = COUNTER) -> None:
    page.wait_for_selector(f"#current[data-number='{number}'][data-counter='{counter}']", timeout=5000)


def wait_for_announcement(page: Any, number: str, *, recall: bool = False, count: int | None = None) -> None:
    selector = f"#announcement[data-number='{number}'][data-recall='{str(recall).lower()}']"
    if count is not None:
        selector += f"[data-count='{count}']"
    page.wait_for_selector(selector, timeout=15000)


def history(page: Any) -> list[str]:
    return page.eval_on_selector_all("#history-rows tr", "rows => rows.map(r => r.dataset.number)")


def spoken(page: Any) -> list[dict[str, str]]:
    return page.evaluate("window.__spoken")


def spaced(number: str) -> str:
    return " ".join(number)


# --- pairing ---------------------------------------------------------------------------------------


def test_an_unpaired_or_refused_display_says_so_in_both_languages(server, open_page):
    page = open_page(f"{server.base_url}/display", viewport=TV)
    page.wait_for_selector("#unpaired:visible")
    assert page.inner_text("#unpaired-title-zh") == "此显示屏尚未配对"
    assert page.inner_text("#unpaired-title-en") == "This display is not paired"
    assert page.is_hidden("#screen")
    page.screenshot_as("display-unpaired")

    revoked = open_page(f"{server.base_url}/display?device=not-a-device-token-of-this-branch", viewport=TV)
    revoked.wait_for_selector("body[data-state='refused'] #unpaired:visible")
    assert revoked.inner_text("#unpaired-title-zh") == "此显示屏的配对已失效"
    assert revoked.inner_text("#unpaired-title-en") == "This display's pairing is no longer valid"


def test_pairing_keeps_the_token_out_of_the_address_bar_and_across_reloads(server, open_page):
    page = open_display(server, open_page)
    assert page.url == f"{server.base_url}/display"
    assert page.evaluate("localStorage.getItem('callwise.display.device')") == server.tokens["lobby"]
    page.wait_for_selector("#branch-zh:has-text('测试支行')")
    assert page.inner_text("#branch-en") == "Test branch"
    assert page.get_attribute("#branch-en", "lang") == "en"
    # The branch runs on Asia/Shanghai; the manual clock stands at 09:00 there.
    page.wait_for_selector("#clock-time:text-matches('^09:0[0-9]$')")

    page.reload()
    page.wait_for_selector("body[data-snapshots='1']")
    assert page.is_hidden("#unpaired")
    assert page.url == f"{server.base_url}/display"


# --- calls -------------------------------------------------------------------------------------------


def test_a_call_shows_huge_is_spoken_in_both_languages_and_pushes_the_last_into_history(server, teller, open_page):
    page = open_display(server, open_page)
    flashes = page.get_attribute("#now", "data-flashes") or "0"

    first = teller.call_next()
    wait_for_current(page, first)
    assert int(page.get_attribute("#now", "data-flashes")) > int(flashes), "a new call lights up"
    wait_for_announcement(page, first)
    assert page.inner_text("#announce-zh") == f"请 {first} 号到 {COUNTER} 号窗口"
    assert page.inner_text("#announce-en") == f"Ticket {first}, please go to counter {COUNTER}"
    assert page.get_attribute("#announcement", "aria-live") == "polite"
    assert page.get_attribute("#announce-zh", "lang") == "zh-CN"

    second = teller.call_next()
    wait_for_current(page, second)
    assert history(page)[0] == first
    assert second not in history(page)
    wait_for_announcement(page, second)
    page.wait_for_function("() => window.__spoken.length >= 4")
    assert spoken(page)[-4:] == [
        {"text": f"请 {spaced(first)} 号到 {COUNTER} 号窗口", "lang": "zh-CN", "voice": "Test Mandarin"},
        {"text": f"Ticket {spaced(first)}, please go to counter {COUNTER}", "lang": "en-GB", "voice": "Test English"},
        {"text": f"请 {spaced(second)} 号到 {COUNTER} 号窗口", "lang": "zh-CN", "voice": "Test Mandarin"},
        {"text": f"Ticket {spaced(second)}, please go to counter {COUNTER}", "lang": "en-GB", "voice": "Test English"},
    ]


def test_calls_close_together_are_announced_one_after_another(server, teller, open_page):
    page = open_display(server, open_page)
    before = len(spoken(page))
    numbers = [teller.call_next() for _ in range(2)]
    wait_for_current(page, numbers[-1])
    assert history(page)[0] == numbers[0]
    page.wait_for_function(f"() => window.__spoken.length >= {before + 4}", timeout=20000)
    texts = [entry["text"] for entry in spoken(page)[before:]]
    assert texts == [
        text
        for number in numbers
        for text in (
            f"请 {spaced(number)} 号到 {COUNTER} 号窗口",
            f"Ticket {spaced(number)}, please go to counter {COUNTER}",
        )
    ]


def test_a_recall_is_announced_again_and_marked(server, teller, open_page):
    page = open_display(server, open_page)
    number = teller.call_next()
    wait_for_announcement(page, number)
    earlier = history(page)
    assert page.is_hidden("#current-recall")
    flashes = int(page.get_attribute("#now", "data-flashes"))

    teller.recall()
    wait_for_announcement(page, number, recall=True)
    assert int(page.get_attribute("#now", "data-flashes")) == flashes + 1
    assert page.is_visible("#current-recall")
    assert page.inner_text("#current-recall").split() == ["再次呼叫", "Recall"]
    assert page.inner_text("#announce-zh") == f"再次呼叫，请 {number} 号到 {COUNTER} 号窗口"
    assert page.inner_text("#announce-en") == f"Recall: ticket {number}, please go to counter {COUNTER}"
    page.wait_for_function(f"() => window.__spoken.some(s => s.text.startsWith('Recall: ticket {spaced(number)}'))")
    # Still one row per ticket: the recall moves the call up, it adds none.
    rows = history(page)
    assert number not in rows and len(rows) == len(set(rows))
    page.screenshot_as("display-recall", animations="disabled")

    following = teller.call_next()
    wait_for_current(page, following)
    page.wait_for_selector(f"#history-rows tr.is-recall[data-number='{number}'] .h-recall:visible")
    assert history(page)[:2] == [number, earlier[0]]


def test_queue_counts_follow_tickets_issued_and_called(server, teller, open_page):
    # This page keeps the browser's own speech (headless Chromium has no voices): text only, no errors.
    page = open_display(server, open_page, init_script=None)
    card = "#queue-list li[data-service='{}'] .q-waiting"
    assert page.inner_text("#queue-list li[data-service='C'] .q-name-zh") == "开户"
    assert page.inner_text("#queue-list li[data-service='C'] .q-name-en") == "Accounts"
    waiting_c = int(page.inner_text(card.format("C")))
    server.issue("C", "door")
    page.wait_for_selector(f"{card.format('C')}:text-is('{waiting_c + 1}')")
    server.issue("C", "door")
    page.wait_for_selector(f"{card.format('C')}:text-is('{waiting_c + 2}')")

    waiting_a = int(page.inner_text(card.format("A")))
    number = teller.call_next()
    page.wait_for_selector(f"{card.format('A')}:text-is('{waiting_a - 1}')")
    wait_for_announcement(page, number)


# --- without sound ---------------------------------------------------------------------------------


def test_without_speech_or_sound_the_call_is_shown_as_text_and_sound_waits_for_a_tap(server, teller, open_page):
    page = open_display(server, open_page, init_script=NO_SPEECH_AND_AUDIO_BLOCKED)
    number = teller.call_next()
    wait_for_current(page, number)
    wait_for_announcement(page, number)
    assert page.inner_text("#announce-zh") == f"请 {number} 号到 {COUNTER} 号窗口"
    page.wait_for_selector("#sound-hint:visible")
    page.mouse.click(960, 540)
    page.wait_for_selector("#sound-hint", state="hidden")


# --- reconnecting ----------------------------------------------------------------------------------


def test_after_the_server_restarts_the_display_reconnects_and_catches_up_without_duplicates(server, teller, open_page):
    page = open_display(server, open_page)
    before_outage = teller.call_next()
    wait_for_current(page, before_outage)
    wait_for_announcement(page, before_outage)
    errors_before = len(page.errors)

    server.kill()
    page.wait_for_selector("#connection:visible")
    # Keep the page away while the branch goes on working, so these calls reach it only by snapshot.
    page.context.set_offline(True)
    server.restart()
    while_away = [teller.call_next(), teller.call_next()]
    page.context.set_offline(False)

    page.wait_for_selector("body[data-snapshots='2']", timeout=20000)
    page.wait_for_selector("#connection", state="hidden")
    wait_for_current(page, while_away[-1])
    rows = history(page)
    assert rows[:2] == [while_away[0], before_outage]
    assert len(rows) == len(set(rows)) and while_away[-1] not in rows
    # Calls made in the last two minutes are still announced: someone may be waiting for exactly them.
    page.wait_for_function(
        f"() => window.__spoken.some(s => s.text === 'Ticket {spaced(while_away[0])}, please go to counter {COUNTER}')"
    )

    # The snapshot was the only way these calls came: live events now keep working on top of it.
    after = teller.call_next()
    wait_for_current(page, after)
    rows = history(page)
    assert rows[0] == while_away[-1] and len(rows) == len(set(rows))

    noise = page.errors[errors_before:]
    del page.errors[errors_before:]
    page.errors.extend(error for error in noise if not OUTAGE_NOISE.search(error))


# --- accessibility -------------------------------------------------------------------------------------


def test_a_display_switched_on_mid_day_shows_the_last_calls_and_passes_axe(server, teller, open_page):
    for _ in range(7 - teller.calls):  # when run alone
        teller.call_next()
    page = open_display(server, open_page)
    rows = history(page)
    assert len(rows) == 6 and len(set(rows)) == 6, "the current call and the six before it"
    current = page.get_attribute("#current", "data-number")
    assert page.get_attribute("#announcement", "data-count") == "0", "nothing said again on switching on"
    assert page.inner_text("#announce-zh") == f"请 {current} 号到 {COUNTER} 号窗口"
    page.wait_for_selector("#clock-time:text-matches('^[0-9]{2}:[0-9]{2}$')")
    page.screenshot_as("display")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    violations = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert violations == []
