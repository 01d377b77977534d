"""One day of the demo branch on the manual clock, across the kiosk, a phone, the lobby display and the
dashboard (issue 14, "Honest hours and capacity"): before opening, open, last tickets issued, after
closing. Each screen is asked what it shows at each step, and photographed at the sizes it lives at:
kiosk 1280×800 and 1080×1920, display 1920×1080 and 1366×768, phone 390×844, dashboard 1366×768.

The branch is the demo config's (config.toml: the longest service names, five services, six
counters), opening 09:00, last tickets 16:45, closing 17:00; the clock starts at 08:40 on Monday
30 November 2026. Headless Chromium has no speech voices, so the display speaks with the server's
espeak-ng (``[display] voice = "auto"``). The tests run in file order and share the day.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard as signed_in_dashboard
from tests.support.callwise import CallwiseServer
from tests.support.process import REPO

MANAGER, KIOSK, DISPLAY = "mona", "door", "lobby"
TELLERS = {1: "tina", 5: "tom", 6: "theo"}  # counter 1: A, B; counter 5: D, C; counter 6: E, D
KIOSK_SIZES = [(1280, 800), (1080, 1920)]
DISPLAY_SIZES = [(1920, 1080), (1366, 768)]
PHONE = (390, 844)
DASHBOARD = (1366, 768)
LIVE_MS = 8000
DAY_START = "2026-11-30T08:40:00+08:00"
ZONE = ZoneInfo("Asia/Shanghai")
DAY: dict[str, Any] = {}  # what one step of the day leaves for a later one


class DemoBranchServer(CallwiseServer):
    """The demo config's branch, services and counters, on the manual clock from 08:40."""

    def write_config(self) -> Path:
        text = (REPO / "config.toml").read_text(encoding="utf-8")
        database = self.directory / "callwise.db"
        server = (f'[server]\nmode = "demo"\ndatabase_url = "sqlite:///{database}"\n'
                  f'public_url = "http://127.0.0.1:{self.port}"\nhost = "127.0.0.1"\nport = {self.port}\n\n')
        text, servers = re.subn(r"(?ms)^\[server\]\n.*?(?=^\[)", server, text, count=1)
        text, clocks = re.subn(r"(?ms)^\[clock\]\n.*?(?=^\[)", f'[clock]\nmode = "manual"\nstart = "{DAY_START}"\n\n',
                               text, count=1)
        text, limits = re.subn(r"(?ms)^\[limits\]\n.*?(?=^\[)",
                               "[limits]\nkiosk_tickets_per_minute = 100000\nlogin_attempts_per_minute = 100000\n\n",
                               text, count=1)
        assert servers == clocks == limits == 1
        assert tomllib.loads(text)["display"] == {"idle_after_s": 600, "voice": "auto"}
        path = self.directory / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; make test requires it)")
    tmp = tmp_path_factory.mktemp("day")
    staff = {MANAGER: "manager", **{name: "teller" for name in TELLERS.values()}}
    with DemoBranchServer.running(tmp, staff=staff, devices={KIOSK: "kiosk", DISPLAY: "display"}) as running:
        yield running


@pytest.fixture(scope="module")
def demo_names() -> list[tuple[str, str, str]]:
    """(code, zh, en) of the demo config's services."""
    services = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))["services"]
    return [(s["code"], s["name"]["zh"], s["name"]["en"]) for s in services]


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def advance_to(server: CallwiseServer, hhmm: str) -> None:
    """Move the manual clock forward to today's ``hhmm`` (the branch's zone)."""
    now = datetime.fromisoformat(ok(server.get("/clock", MANAGER))["now"]).astimezone(ZONE)
    target = datetime.combine(now.date(), time.fromisoformat(hhmm), tzinfo=ZONE)
    delta = (target - now).total_seconds()
    assert delta > 0, (now, hhmm)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": delta}))


def issue(server: CallwiseServer, service: str, lang: str = "zh") -> dict[str, Any]:
    return dict(ok(server.post("/tickets", KIOSK, json={"service": service, "lang": lang})))


def teller(server: CallwiseServer, counter: int, action: str, **body: Any) -> dict[str, Any]:
    return dict(ok(server.post(f"/counters/{counter}/{action}", TELLERS[counter], json=body or None)))


# --- the pages -------------------------------------------------------------------------------------


def open_kiosk(server: CallwiseServer, open_page: Any, size: tuple[int, int]) -> Any:
    page = open_page(f"{server.base_url}/kiosk?device={server.tokens[KIOSK]}", viewport=size, has_touch=True)
    page.wait_for_selector("body[data-hours]", timeout=LIVE_MS)
    return page


def open_display(server: CallwiseServer, open_page: Any, size: tuple[int, int]) -> Any:
    page = open_page(f"{server.base_url}/display?device={server.tokens[DISPLAY]}", viewport=size)
    page.wait_for_selector("body[data-hours]", timeout=LIVE_MS)
    return page


def open_phone(server: CallwiseServer, open_page: Any, ticket: dict[str, Any]) -> Any:
    page = open_page(f"{server.base_url}/t/{ticket['token']}", viewport=PHONE, has_touch=True, is_mobile=True)
    page.wait_for_selector("#view-ticket:not([hidden])", timeout=LIVE_MS)
    page.wait_for_selector("#live-dot.online", timeout=LIVE_MS)
    return page


def open_dashboard(server: CallwiseServer, open_page: Any) -> Any:
    return signed_in_dashboard(open_page, server, MANAGER, DASHBOARD)


def english(page: Any, probe: str, text: str) -> None:
    page.click("#lang-toggle")
    expect(page.locator(probe)).to_contain_text(text)


def size_name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


# Nothing on the page is wider or taller than the window (no scrolling), and no element cuts its text.
OVERFLOW = """() => ({
  page: [document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight],
})"""

# The display's layout: the service line inside the call panel and clear of the recall badge; every
# service name inside its tile, not cut (no ellipsis, no hidden overflow).
DISPLAY_LAYOUT = """() => {
  const r = (e) => e.getBoundingClientRect();
  const now = r(document.getElementById('now'));
  const border = parseFloat(getComputedStyle(document.getElementById('now')).borderBottomWidth);
  const service = document.getElementById('current-service');
  const badge = document.getElementById('current-recall');
  const s = r(service), b = r(badge);
  const overlaps = !badge.hidden && !(b.bottom <= s.top || s.bottom <= b.top || b.right <= s.left || s.right <= b.left);
  const numbers = ['current-number', 'current-counter'].map((id) => r(document.getElementById(id)));
  const names = [...document.querySelectorAll('.q-name-zh, .q-name-en')].map((e) => {
    const tile = r(e.closest('.queue')), box = r(e);
    const style = getComputedStyle(e);
    return {text: e.textContent, cut: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1
            || style.textOverflow === 'ellipsis' && style.overflow !== 'visible',
            outside: box.left < tile.left - 0.5 || box.right > tile.right + 0.5 || box.bottom > tile.bottom + 0.5};
  });
  return {
    serviceText: service.textContent,
    serviceInside: s.top >= now.top && s.bottom <= now.bottom - border + 0.5
                   && s.left >= now.left && s.right <= now.right,
    numbersInside: numbers.every((n) => n.top >= now.top && n.bottom <= now.bottom - border + 0.5),
    badgeShown: !badge.hidden,
    overlaps,
    names,
    page: [document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight],
  };
}"""


# --- the day ----------------------------------------------------------------------------------------


def test_0840_before_opening_every_screen_says_when_the_branch_opens(server, open_page):
    refused = server.post("/tickets", KIOSK, json={"service": "A", "lang": "en"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "branch_closed"

    for size in KIOSK_SIZES:
        kiosk = open_kiosk(server, open_page, size)
        closed = kiosk.locator("#screen-closed")
        expect(closed).to_be_visible()
        expect(closed).to_have_attribute("data-state", "before_opening")
        expect(kiosk.locator("#closed-title-zh")).to_have_text("本网点尚未营业")
        expect(kiosk.locator("#closed-title-en")).to_have_text("We are not open yet")
        expect(kiosk.locator("#closed-opening-zh")).to_have_text("今天 09:00 开始营业")
        expect(kiosk.locator("#closed-opening-en")).to_have_text("Opens today at 09:00")
        assert kiosk.evaluate(OVERFLOW)["page"] == [0, 0]
        kiosk.screenshot_as(f"day-0840-kiosk-{size_name(size)}")

    for size in DISPLAY_SIZES:
        display = open_display(server, open_page, size)
        expect(display.locator("#closed")).to_be_visible()
        expect(display.locator("#closed-state-zh")).to_have_text("尚未营业")
        expect(display.locator("#closed-opening-en")).to_have_text("Opens today at 09:00")
        expect(display.locator(".board")).to_be_hidden()
        # Headless Chromium has no speech voice: the server's espeak-ng speaks, and the status bar says so.
        expect(display.locator("#voice-status")).to_have_attribute("data-voice", "server")
        expect(display.locator("#voice-status-zh")).to_have_text("语音播报：服务器语音（espeak-ng）")
        display.screenshot_as(f"day-0840-display-{size_name(size)}")

    dashboard = open_dashboard(server, open_page)
    expect(dashboard.locator("#hours-state")).to_have_text("尚未营业 · 今天 09:00 开始营业")
    dashboard.screenshot_as("day-0840-dashboard-1366x768")


def test_0900_open_estimates_only_what_a_staffed_counter_backs(server, open_page, demo_names):
    kiosk = open_kiosk(server, open_page, KIOSK_SIZES[0])
    display = open_display(server, open_page, DISPLAY_SIZES[0])
    dashboard = open_dashboard(server, open_page)
    advance_to(server, "09:00")

    # The kiosk opens by itself; nobody is at a counter yet, so no wait is promised.
    expect(kiosk.locator("#screen-services")).to_be_visible(timeout=LIVE_MS)
    expect(kiosk.locator(".service[data-code=E] .service-wait-value")).to_have_text("暂无窗口办理此业务")
    expect(display.locator(".board")).to_be_visible(timeout=LIVE_MS)
    expect(display.locator("#no-calls")).to_be_visible()
    expect(dashboard.locator("#hours-state")).to_have_text("营业中 · 16:45 停止取号", timeout=LIVE_MS)
    dashboard.screenshot_as("day-0900-dashboard-1366x768")

    # The documents screen of the service with the most documents, warned "no counter", fits the kiosk.
    for size in KIOSK_SIZES:
        page = kiosk if size == KIOSK_SIZES[0] else open_kiosk(server, open_page, size)
        expect(page.locator("#screen-services")).to_be_visible(timeout=LIVE_MS)
        for lang in ("zh", "en"):
            if lang == "en":
                english(page, "#screen-services .screen-title", "What would you like")
            page.click(".service[data-code=E]")
            expect(page.locator("#doc-warning")).to_have_attribute("data-kind", "unstaffed")
            expect(page.locator("#doc-list li")).to_have_count(4)
            assert page.evaluate(OVERFLOW)["page"] == [0, 0], f"the documents screen overflows at {size} ({lang})"
            confirm = page.locator("#confirm").bounding_box()
            assert confirm["y"] + confirm["height"] <= size[1]
            page.screenshot_as(f"day-0900-kiosk-documents-{lang}-{size_name(size)}")
            page.click("#back")
            expect(page.locator("#screen-services")).to_be_visible()

    # A ticket for E, with no counter for it: its phone says so rather than a number of minutes.
    business = issue(server, "E")
    assert business["estimated_wait_s"] is None
    phone = open_phone(server, open_page, business)
    expect(phone.locator("#wait")).to_have_text("暂无窗口办理此业务")
    expect(phone.locator("#hours")).to_have_text("营业中 · 17:00 停止营业")
    phone.screenshot_as("day-0900-phone-no-counter-390x844")

    # Counters open; calls reach the display, which speaks them with the server's voice.
    for number in TELLERS:
        teller(server, number, "open")
    for code, *_ in demo_names:
        issue(server, code)
    for _ in range(3):
        issue(server, "A")
    called = teller(server, 1, "call-next")
    expect(display.locator("#current")).to_have_attribute("data-number", called["number"], timeout=LIVE_MS)
    expect(display.locator("#voice-status")).to_have_attribute("data-served", re.compile(r"^[1-9]"), timeout=20_000)
    assert int(display.locator("#voice-status").get_attribute("data-last-bytes")) > 20_000
    teller(server, 1, "recall")
    expect(display.locator("#current-recall")).to_be_visible(timeout=LIVE_MS)

    for size in DISPLAY_SIZES:
        page = display if size == DISPLAY_SIZES[0] else open_display(server, open_page, size)
        expect(page.locator("#current-recall")).to_be_visible(timeout=LIVE_MS)
        layout = page.evaluate(DISPLAY_LAYOUT)
        assert layout["serviceText"] == "现金存取 · Cash deposit & withdrawal"
        assert layout["badgeShown"] and not layout["overlaps"], layout
        assert layout["serviceInside"] and layout["numbersInside"], layout
        assert {n["text"] for n in layout["names"]} == {n for _, zh, en in demo_names for n in (zh, en)}
        assert [n for n in layout["names"] if n["cut"] or n["outside"]] == [], layout["names"]
        assert layout["page"] == [0, 0]
        page.screenshot_as(f"day-0930-display-{size_name(size)}")


def test_quiet_hours_put_the_display_on_its_idle_screen(server, open_page):
    display = open_display(server, open_page, DISPLAY_SIZES[0])
    expect(display.locator("#now")).to_have_attribute("data-view", "call", timeout=LIVE_MS)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 11 * 60}))  # [display] idle_after_s = 600
    expect(display.locator("#now")).to_have_attribute("data-view", "idle", timeout=LIVE_MS)
    expect(display.locator("#current")).to_be_hidden()
    expect(display.locator("#announcement")).to_be_hidden()
    expect(display.locator("#idle-since")).to_contain_text("上次叫号：11 分钟前")
    display.screenshot_as("day-idle-display-1920x1080")


def test_1600_a_long_queue_is_told_it_may_not_be_served_today(server, open_page):
    advance_to(server, "16:00")
    tickets = [issue(server, "D") for _ in range(6)]
    last = tickets[-1]
    DAY["late_loan"] = last
    assert last["fits_before_close"] is False
    phone = open_phone(server, open_page, last)
    expect(phone.locator("#late")).to_be_visible()
    expect(phone.locator("#late-title")).to_have_text("今天可能轮不到您")
    expect(phone.locator("#late-text")).to_contain_text("17:00")
    phone.screenshot_as("day-1600-phone-late-390x844")

    kiosk = open_kiosk(server, open_page, KIOSK_SIZES[0])
    expect(kiosk.locator(".service[data-code=D] .service-late")).to_have_text("今天可能无法办理")
    kiosk.click(".service[data-code=D]")
    expect(kiosk.locator("#doc-warning")).to_have_attribute("data-kind", "late")
    expect(kiosk.locator("#doc-warning-title")).to_have_text("今天可能轮不到您")
    expect(kiosk.locator("#confirm")).to_have_text("仍然取号")  # late: "take a ticket anyway"
    assert kiosk.evaluate(OVERFLOW)["page"] == [0, 0]
    kiosk.screenshot_as("day-1600-kiosk-late-1280x800")

    # The hall hears it too, for whoever has no phone page: the loans tile on the lobby screen.
    display = open_display(server, open_page, DISPLAY_SIZES[0])
    loans = display.locator(".queue[data-service=D]")
    expect(loans).to_have_class(re.compile(r"\bis-late\b"), timeout=LIVE_MS)
    expect(loans.locator(".q-wait-zh")).to_have_text("今天可能无法全部办理")
    expect(loans.locator(".q-wait-en")).to_have_text("not all may be served today")
    expect(display.locator(".queue[data-service=A]")).not_to_have_class(re.compile(r"\bis-late\b"))
    display.screenshot_as("day-1600-display-late-1920x1080")


def test_1645_last_tickets_issued_the_kiosk_closes_and_the_hall_is_still_served(server, open_page):
    kiosk = open_kiosk(server, open_page, KIOSK_SIZES[1])
    dashboard = open_dashboard(server, open_page)
    advance_to(server, "16:45")
    expect(kiosk.locator("#screen-closed")).to_have_attribute("data-state", "last_tickets_issued", timeout=LIVE_MS)
    expect(kiosk.locator("#closed-title-zh")).to_have_text("今日取号已结束")
    expect(kiosk.locator("#closed-detail-en")).to_contain_text("Closes at 17:00")
    kiosk.screenshot_as("day-1645-kiosk-1080x1920")
    expect(dashboard.locator("#hours-state")).to_have_text("今日取号已结束 · 17:00 停止营业", timeout=LIVE_MS)
    dashboard.screenshot_as("day-1645-dashboard-1366x768")

    display = open_display(server, open_page, DISPLAY_SIZES[1])
    called = teller(server, 5, "call-next")
    expect(display.locator("#current")).to_have_attribute("data-number", called["number"], timeout=LIVE_MS)
    display.screenshot_as("day-1645-display-1366x768")


def test_1700_closed_waiting_tickets_are_cancelled_and_every_screen_names_the_next_opening(server, open_page):
    token = DAY["late_loan"]["token"]
    assert server.ticket(token)["status"] == "waiting"
    phone = open_phone(server, open_page, DAY["late_loan"])
    displays = [open_display(server, open_page, size) for size in DISPLAY_SIZES]
    dashboard = open_dashboard(server, open_page)
    kiosk = open_kiosk(server, open_page, KIOSK_SIZES[0])

    advance_to(server, "17:00")
    assert server.ticket(token)["cancel_reason"] == "branch_closed"

    expect(phone.locator("#state-cancelled")).to_have_attribute("data-reason", "branch_closed", timeout=LIVE_MS)
    expect(phone.locator("#cancelled-title")).to_have_text("营业已结束，此号码已取消")
    expect(phone.locator("#cancelled-next")).to_contain_text("下次营业：12月1日（周二） 09:00")
    expect(phone.locator("#hours")).to_have_text("已停止营业")  # the next opening once, in the message
    phone.screenshot_as("day-1700-phone-cancelled-zh-390x844")
    english(phone, "#cancelled-title", "We closed before your turn")
    expect(phone.locator("#cancelled-next")).to_contain_text("Next opening: Tue 1 Dec, 09:00")
    phone.screenshot_as("day-1700-phone-cancelled-en-390x844")

    for size, display in zip(DISPLAY_SIZES, displays, strict=True):
        expect(display.locator("#closed")).to_have_attribute("data-state", "closed", timeout=LIVE_MS)
        expect(display.locator("#closed-state-zh")).to_have_text("已停止营业")
        expect(display.locator("#closed-opening-en")).to_have_text("Next opening: Tue 1 Dec, 09:00")
        expect(display.locator("#current")).to_be_hidden()  # never a stale "B002 → counter 3"
        expect(display.locator("#announcement")).to_be_hidden()  # nor its words in the bar
        display.screenshot_as(f"day-1700-display-{size_name(size)}")

    expect(kiosk.locator("#screen-closed")).to_have_attribute("data-state", "closed", timeout=LIVE_MS)
    expect(kiosk.locator("#closed-opening-zh")).to_have_text("下次营业：12月1日（周二） 09:00")
    kiosk.screenshot_as("day-1700-kiosk-1280x800")
    expect(dashboard.locator("#hours-state")).to_have_text("已停止营业 · 下次营业：12月1日（周二） 09:00",
                                                          timeout=LIVE_MS)
    dashboard.screenshot_as("day-1700-dashboard-1366x768")
