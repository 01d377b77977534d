"""Priority customers and leaving the queue (issue 15), across the kiosk, the lobby display, the phone
page and the dashboard, in Chromium against a real server on the demo config's branch (its long
service names) and the manual clock (10:00 on Monday 30 November 2026). Tellers act over HTTP.

The services are kept apart so that the tests do not call each other's tickets: A and B at counter 1
(priority), D never called (leaving the queue), E at counter 6, called by ticket only (set aside).
The tests run in file order and share the module's server.
Screenshots: priority-*, phone-leave-*, phone-held-*, dashboard-priority-*.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_branch_server, open_dashboard
from tests.browser.test_display import FAKE_SPEECH
from tests.support.callwise import CallwiseServer

MANAGER, KIOSK, DISPLAY = "maya", "door", "lobby"
TELLERS = {1: "tina", 6: "theo"}  # the demo config: counter 1 serves A, B; counter 6 serves E, D
KIOSK_LANDSCAPE, KIOSK_PORTRAIT = (1280, 800), (1080, 1920)
TV, PHONE = (1920, 1080), (390, 844)
DESK, TABLET = (1440, 900), (1024, 768)
LIVE_MS = 8000
NO_PRINT = "window.__prints = 0; window.print = () => { window.__prints += 1; };"
PRIORITY_ZH = "优先服务适用于老年人、残障人士和孕妇——工作人员可能会核实。"
PRIORITY_EN = "For elderly, disabled or pregnant customers — a staff member may check."
DONE: dict[str, Any] = {}  # what one test leaves for a later one

# Nothing on the page is wider or taller than the window.
OVERFLOW = """() => [document.documentElement.scrollWidth - innerWidth,
                    document.documentElement.scrollHeight - innerHeight]"""

# The display's call panel with a priority badge: the badge inside the panel, clear of the service
# line and of the number, and big enough to read across the hall.
DISPLAY_BADGE = """() => {
  const r = (id) => document.getElementById(id).getBoundingClientRect();
  const now = r('now'), badge = r('current-priority'), service = r('current-service'), number = r('current-number');
  const apart = (a, b) => a.bottom <= b.top || b.bottom <= a.top || a.right <= b.left || b.right <= a.left;
  const inside = (a) => a.top >= now.top && a.bottom <= now.bottom && a.left >= now.left && a.right <= now.right;
  return {
    inside: inside(badge) && inside(service) && inside(number),
    clear: apart(badge, service) && apart(badge, number),
    fontPx: parseFloat(getComputedStyle(document.getElementById('current-priority')).fontSize),
    page: [document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight],
  };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    staff = {MANAGER: "manager", **{name: "teller" for name in TELLERS.values()}}
    yield from demo_branch_server(tmp_path_factory, "priority", staff=staff,
                                  devices={KIOSK: "kiosk", DISPLAY: "display"})


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
    return response.json()


def issue(server: CallwiseServer, service: str, lang: str = "zh") -> dict[str, Any]:
    return dict(ok(server.post("/tickets", KIOSK, json={"service": service, "lang": lang})))


def teller(server: CallwiseServer, counter: int, action: str, **body: Any) -> dict[str, Any]:
    return dict(ok(server.post(f"/counters/{counter}/{action}", TELLERS[counter], json=body or None)))


def advance(server: CallwiseServer, seconds: float) -> None:
    """Move the manual clock on (calls made at one instant would be listed in either order)."""
    ok(server.post("/clock/advance", MANAGER, json={"seconds": seconds}))


def queue(server: CallwiseServer, code: str) -> list[dict[str, Any]]:
    """The waiting (and held) tickets of a service, as a teller's console sees them."""
    services = ok(server.get("/queue", TELLERS[1]))["services"]
    return list(next(s["tickets"] for s in services if s["code"] == code))


def open_kiosk(server: CallwiseServer, open_page: Any, size: tuple[int, int], *, clock: bool = False) -> Any:
    """A kiosk paired with the "door" device, counting print()s; ``clock``: on Playwright's clock,
    whose timeouts a test may jump over."""
    page = open_page(viewport=size, has_touch=True)
    if clock:
        page.clock.install()
    page.add_init_script(NO_PRINT)
    page.goto(f"{server.base_url}/kiosk?device={server.tokens[KIOSK]}")
    page.wait_for_selector("#screen-services:not([hidden]) .service", timeout=LIVE_MS)
    return page


def open_display(server: CallwiseServer, open_page: Any) -> Any:
    page = open_page(viewport=TV)
    page.add_init_script(FAKE_SPEECH)
    page.goto(f"{server.base_url}/display?device={server.tokens[DISPLAY]}")
    page.wait_for_selector("body[data-snapshots='1']", timeout=LIVE_MS)
    return page


def open_phone(server: CallwiseServer, open_page: Any, token: str) -> Any:
    page = open_page(f"{server.base_url}/t/{token}", viewport=PHONE, has_touch=True, is_mobile=True)
    page.wait_for_selector("#view-ticket:not([hidden])", timeout=LIVE_MS)
    page.wait_for_selector("#live-dot.online", timeout=LIVE_MS)
    return page


def take_priority_ticket(page: Any) -> tuple[str, dict[str, Any]]:
    """Confirm on the priority screen; the number on the paper and what the kiosk asked for."""
    with page.expect_request(re.compile(r"/api/v1/tickets$")) as sent:
        page.click("#priority-confirm")
    page.wait_for_selector("#screen-ticket:not([hidden])", timeout=LIVE_MS)
    page.wait_for_function("() => window.__prints === 1", timeout=LIVE_MS)
    return page.inner_text("#paper-number"), dict(sent.value.post_data_json)


def qr_token(page: Any) -> str:
    source = page.get_attribute("#paper-qr", "src")
    return re.fullmatch(r"/api/v1/tickets/([A-Za-z0-9_-]+)/qr\.svg", source).group(1)


# --- priority ----------------------------------------------------------------------------------------


def test_a_priority_customer_confirms_at_the_kiosk_is_called_first_and_marked_on_the_display(server, open_page):
    for _ in range(2):
        issue(server, "A")  # two ordinary customers are already waiting
    before = queue(server, "A")
    display = open_display(server, open_page)
    page = open_kiosk(server, open_page, KIOSK_LANDSCAPE)

    page.click(".service[data-code=A]")
    expect(page.locator("#priority")).to_be_visible()
    expect(page.locator("#priority")).to_contain_text("优先服务")
    assert page.evaluate(OVERFLOW) == [0, 0], "with the priority option the documents screen still fits"
    page.screenshot_as("priority-kiosk-documents-zh-1280x800")

    # Asking is not choosing: a confirmation screen, in both languages, and no ticket yet.
    page.click("#priority")
    expect(page.locator("#screen-priority")).to_be_visible()
    expect(page.locator("#priority-title")).to_have_text("优先服务")
    expect(page.locator("#priority-text")).to_have_text(PRIORITY_ZH)
    expect(page.locator("#priority-text-other")).to_have_text(PRIORITY_EN)
    expect(page.locator("#priority-confirm")).to_have_text("确认，取优先号")
    assert page.evaluate(OVERFLOW) == [0, 0]
    page.screenshot_as("priority-kiosk-confirm-zh-1280x800")
    page.click("#priority-back")
    expect(page.locator("#screen-documents")).to_be_visible()
    assert queue(server, "A") == before

    page.click("#priority")
    number, asked = take_priority_ticket(page)
    assert asked["priority"] is True and asked["service"] == "A"
    expect(page.locator("#paper-priority")).to_be_visible()
    expect(page.locator("#paper-priority")).to_have_text("优先 · Priority")
    tickets = queue(server, "A")
    assert len(tickets) == len(before) + 1
    mine = next(t for t in tickets if t["number"] == number)
    assert mine["priority"] is True
    page.screenshot_as("priority-kiosk-ticket-zh-1280x800")

    # A teller calls the next customer: the priority one, ahead of the two who came first.
    teller(server, 1, "open")
    called = teller(server, 1, "call-next")
    assert called["number"] == number and called["priority"] is True
    expect(display.locator("#current")).to_have_attribute("data-number", number, timeout=LIVE_MS)
    badge = display.locator("#current-priority")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("优先")
    expect(badge).to_contain_text("Priority")
    expect(display.locator("#current")).to_have_attribute("data-priority", "true")
    layout = display.evaluate(DISPLAY_BADGE)
    assert layout["inside"] and layout["clear"], layout
    assert layout["fontPx"] >= 40, layout  # read from across the hall, like the recall badge
    assert layout["page"] == [0, 0], layout
    display.screenshot_as("priority-display-call-1920x1080")

    # The next (ordinary) call: the priority one moves into the history, still marked.
    teller(server, 1, "start")
    advance(server, 180)
    teller(server, 1, "complete", outcome="done")
    ordinary = teller(server, 1, "call-next")
    assert ordinary["priority"] is False and ordinary["number"] == before[0]["number"]
    expect(display.locator("#current")).to_have_attribute("data-number", ordinary["number"], timeout=LIVE_MS)
    expect(display.locator("#current-priority")).to_be_hidden()
    row = display.locator(f"#history-rows tr[data-number='{number}']")
    expect(row.locator(".h-priority")).to_be_visible()
    expect(display.locator(f"#history-rows tr[data-number='{number}']")).to_have_attribute("data-priority", "true")
    display.screenshot_as("priority-display-history-1920x1080")

    # A display switched on now learns it from the snapshot's recent calls.
    fresh = open_display(server, open_page)
    expect(fresh.locator(f"#history-rows tr[data-number='{number}'] .h-priority")).to_be_visible()
    teller(server, 1, "start")
    teller(server, 1, "complete", outcome="done")


def test_the_priority_confirmation_in_english_on_a_portrait_kiosk_and_the_phone_page(server, open_page):
    page = open_kiosk(server, open_page, KIOSK_PORTRAIT, clock=True)
    page.click("#lang-toggle")
    expect(page.locator("#screen-services .screen-title")).to_have_text("What would you like to do today?")
    page.click(".service[data-code=B]")
    expect(page.locator("#priority")).to_contain_text("Priority customer")
    page.screenshot_as("priority-kiosk-documents-en-1080x1920")
    page.click("#priority")
    expect(page.locator("#priority-title")).to_have_text("Priority service")
    expect(page.locator("#priority-title-other")).to_have_text("优先服务")
    expect(page.locator("#priority-text")).to_have_text(PRIORITY_EN)
    expect(page.locator("#priority-text-other")).to_have_text(PRIORITY_ZH)
    assert page.evaluate(OVERFLOW) == [0, 0]
    page.screenshot_as("priority-kiosk-confirm-en-1080x1920")

    # The customer walks away from the question: the next one finds the list, in Chinese.
    page.clock.fast_forward(31_000)
    expect(page.locator("#screen-services")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#screen-services .screen-title")).to_have_text("请选择您要办理的业务")

    page.click("#lang-toggle")
    page.click(".service[data-code=B]")
    page.click("#priority")
    number, asked = take_priority_ticket(page)
    assert asked == {"service": "B", "lang": "en", "priority": True}
    expect(page.locator("#paper-priority")).to_have_text("优先 · Priority")
    page.screenshot_as("priority-kiosk-ticket-en-1080x1920")
    token = qr_token(page)
    assert server.ticket(token)["priority"] is True
    DONE["b_priority"] = {"number": number, "token": token, "id": server.ticket(token)["id"]}

    phone = open_phone(server, open_page, token)
    expect(phone.locator("#priority")).to_have_text("Priority customer")
    expect(phone.locator("#number")).to_have_text(number)
    phone.screenshot_as("priority-phone-en-390x844")


@pytest.mark.parametrize("viewport", [DESK, TABLET], ids=["desk-1440x900", "tablet-1024x768"])
def test_the_dashboard_marks_priority_tickets_waiting_and_at_a_counter(server, open_page, viewport):
    ticket = DONE["b_priority"]
    page = open_dashboard(open_page, server, MANAGER, viewport)
    counter = page.locator(".tile[data-counter='1']")
    row = page.locator("#queue-rows tr[data-service='B']")
    counters = ok(server.get("/counters", MANAGER))
    if not any((c["current_ticket"] or {}).get("number") == ticket["number"] for c in counters):
        # Waiting: the queue table says how many of service B's customers are priority ones.
        expect(row).to_have_attribute("data-priority", "1")
        expect(row.locator(".priority-pill")).to_have_text("优先 1")
        page.screenshot_as(f"dashboard-priority-waiting-{viewport[0]}-zh")
        # Called by number, as a console's waiting list does: its tile marks it.
        teller(server, 1, "call", ticket=ticket["id"])
    expect(counter.locator(".ticket-number")).to_have_text(ticket["number"], timeout=LIVE_MS)
    expect(counter.locator(".priority-pill")).to_have_text("优先")
    expect(row).to_have_attribute("data-priority", "0")
    page.click("#lang-toggle")
    expect(counter.locator(".priority-pill")).to_have_text("Priority")
    page.screenshot_as(f"dashboard-priority-counter-{viewport[0]}-en")


# --- leaving the queue -------------------------------------------------------------------------------


def test_a_customer_leaves_the_queue_from_the_phone_and_the_one_behind_moves_up(server, open_page):
    leaving = issue(server, "D", lang="en")
    behind = issue(server, "D", lang="zh")
    assert server.ticket(behind["token"])["position"] == 2
    mine = open_phone(server, open_page, leaving["token"])
    theirs = open_phone(server, open_page, behind["token"])
    expect(theirs.locator("#ahead")).to_have_text("1 人")

    # The one behind looks at the button too, and keeps their place.
    theirs.click("#leave-ask")
    expect(theirs.locator("#leave-question")).to_have_text("确定要取消排队吗？")
    expect(theirs.locator("#leave-text")).to_contain_text(behind["number"])
    theirs.screenshot_as("phone-leave-confirm-zh-390x844", full_page=True)
    theirs.click("#leave-keep")
    expect(theirs.locator("#leave-ask")).to_be_visible()

    expect(mine.locator("#leave-ask")).to_have_text("Leave the queue")
    mine.click("#leave-ask")
    expect(mine.locator("#leave-confirm")).to_be_visible()
    expect(mine.locator("#leave-yes")).to_have_text("Yes, leave the queue")
    expect(mine.locator("#leave-text")).to_contain_text(leaving["number"])
    assert server.ticket(leaving["token"])["status"] == "waiting"  # asking is not leaving
    mine.screenshot_as("phone-leave-confirm-en-390x844", full_page=True)

    with mine.expect_response(re.compile(r"/cancel$")) as answer:
        mine.click("#leave-yes")
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.request.method == "POST"
    expect(mine.locator("#state-cancelled")).to_be_visible()
    expect(mine.locator("#state-cancelled")).to_have_attribute("data-reason", "customer")
    expect(mine.locator("#cancelled-title")).to_have_text("You have left the queue")
    expect(mine.locator("#cancelled-text")).to_contain_text(leaving["number"])
    expect(mine.locator("#leave")).to_be_hidden()
    expect(mine.locator("#documents")).to_be_hidden()
    gone = server.ticket(leaving["token"])
    assert (gone["status"], gone["cancel_reason"]) == ("cancelled", "customer")
    mine.screenshot_as("phone-left-en-390x844", full_page=True)

    # The customer behind moves up at once, on their own page, without reloading.
    expect(theirs.locator("#ahead")).to_have_text("您是下一位", timeout=LIVE_MS)
    assert server.ticket(behind["token"])["position"] == 1
    theirs.screenshot_as("phone-moved-up-zh-390x844", full_page=True)

    # The page opened again later still says so, in the customer's language.
    again = open_phone(server, open_page, leaving["token"])
    expect(again.locator("#cancelled-title")).to_have_text("You have left the queue")
    again.click("#lang-toggle")
    expect(again.locator("#cancelled-title")).to_have_text("您已取消排队")
    again.screenshot_as("phone-left-zh-390x844", full_page=True)


def test_a_customer_set_aside_is_told_they_will_be_called_back_and_may_still_leave(server, open_page):
    ticket = issue(server, "E")
    page = open_phone(server, open_page, ticket["token"])
    teller(server, 6, "open")
    teller(server, 6, "call", ticket=ticket["id"])
    expect(page.locator("#state-called")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#leave")).to_be_hidden()  # called: too late to leave from the phone

    teller(server, 6, "hold", note="客户回家取营业执照原件，约二十分钟")
    expect(page.locator("#state-held")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#held-title")).to_have_text("已在 6 号窗口暂挂，稍后会再叫您")
    expect(page.locator("#documents")).to_be_visible()  # they may be fetching one of them
    expect(page.locator("#leave-ask")).to_be_visible()
    assert "营业执照原件" not in page.inner_text("body")  # the teller's note is for tellers only
    page.screenshot_as("phone-held-zh-390x844", full_page=True)
    page.click("#lang-toggle")
    expect(page.locator("#held-title")).to_have_text("Set aside at counter 6 — you will be called back")
    page.screenshot_as("phone-held-en-390x844", full_page=True)

    # Back with the document: called again, by number.
    teller(server, 6, "call", ticket=ticket["id"])
    expect(page.locator("#state-called")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#called-text")).to_have_text("Please go to counter 6")
