"""Tickets issued at the lobby desk: the dashboard's "Issue a ticket / 代取号" dialog, in Chromium against a
real server on the manual clock.

The lobby manager issues a ticket for a customer who should not queue at the kiosk (a priority customer)
or whom the kiosk refused: service, priority and the customer's language, then the ticket to read out,
with its QR code and a Print button. The tests share the module's server and run in file order; the
last one moves the clock past closing. Screenshots: desk-ticket-*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, demo_branch_server, expect_refusals, open_dashboard
from tests.support.callwise import CallwiseServer

MANAGER, TELLER, KIOSK = "mia", "lin", "door"
DESK, TABLET = (1440, 900), (1024, 768)
LIVE_MS = 8000
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "desk", staff={MANAGER: "manager", TELLER: "teller"},
                             devices={KIOSK: "kiosk"})


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    """The demo config's branch: five services with long English names."""
    yield from demo_branch_server(tmp_path_factory, "desk-demo", staff={MANAGER: "manager"})


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
    return response.json()


def queue(server: CallwiseServer, service: str) -> list[dict[str, Any]]:
    """The service's waiting tickets in call order, as a teller sees them (GET /queue)."""
    services = ok(server.get("/queue", TELLER))["services"]
    return next(s for s in services if s["code"] == service)["tickets"]


def english(page: Any) -> None:
    page.click("#lang-toggle")
    expect(page.locator("#issue-ticket")).to_have_text("Issue a ticket")


def open_dialog(page: Any) -> Any:
    page.click("#issue-ticket")
    dialog = page.locator("#desk-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("label.desk-service")).to_have_count(4)
    return dialog


def qr_loaded(page: Any, selector: str = "#desk-ticket .desk-qr img") -> None:
    page.wait_for_function(
        "(s) => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector, timeout=LIVE_MS)


FITS = """() => {
  const d = document.getElementById('desk-dialog').getBoundingClientRect();
  const dialog = document.getElementById('desk-dialog');
  return {top: d.top, bottom: d.bottom, left: d.left, right: d.right, width: innerWidth, height: innerHeight,
          scrolls: dialog.scrollHeight > dialog.clientHeight + 1,
          small: [...dialog.querySelectorAll('button, label.desk-option')].filter((e) => e.getClientRects().length)
            .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect().width,
                         e.getBoundingClientRect().height])
            .filter(([, w, h]) => w < 44 || h < 44)};
}"""


def assert_fits(page: Any) -> None:
    """The dialog lies wholly in the window, without a scroll of its own, its targets big enough to tap."""
    box = page.evaluate(FITS)
    assert box["top"] >= 0 and box["left"] >= 0, box
    assert box["bottom"] <= box["height"] and box["right"] <= box["width"], box
    assert not box["scrolls"], box
    assert box["small"] == [], box


def test_the_manager_issues_a_priority_ticket_in_english_which_goes_first_in_its_queue(server, open_page):
    ok(server.post("/counters/1/open", TELLER))
    ahead = [server.issue("A", KIOSK)["number"] for _ in range(2)]  # two customers already queue at the kiosk
    page = open_dashboard(open_page, server, MANAGER, DESK)
    expect(page.locator("#issue-ticket")).to_have_text("代取号")

    dialog = open_dialog(page)
    expect(dialog.locator("#desk-title")).to_have_text("代取号")
    cash = dialog.locator("label.desk-service[data-service='A']")
    expect(cash).to_contain_text("现金存取")
    expect(cash.locator(".desk-service-wait")).to_contain_text("2 人等候")
    # Only the branch's languages, none chosen but the first.
    expect(dialog.locator("label.desk-lang")).to_have_text(["中文", "English"])
    expect(dialog.locator("input[name='desk-lang']:checked")).to_have_value("zh")

    cash.click()
    priority = dialog.locator("label.desk-priority")
    before = priority.evaluate("e => getComputedStyle(e).backgroundColor")
    priority.click()
    expect(dialog.locator("#desk-priority")).to_be_checked()
    # Ticked, it is plainly different: violet with its "✓ 优先" tag.
    assert priority.evaluate("e => getComputedStyle(e).backgroundColor") != before
    expect(priority.locator(".desk-priority-state")).to_be_visible()
    dialog.locator("label.desk-lang[data-lang='en']").click()
    expect(dialog.locator("input[name='desk-lang']:checked")).to_have_value("en")
    page.screenshot_as("desk-ticket-form-priority-1440-zh")

    dialog.locator("#desk-confirm").click()
    result = dialog.locator("#desk-result")
    expect(result).to_be_visible()
    number = result.locator("#desk-ticket .desk-number")
    expect(number).to_have_text(re.compile(r"^A\d{3}$"))
    issued = number.text_content()
    assert issued not in ahead
    expect(result.locator("#desk-ticket .desk-priority-mark")).to_have_text("优先客户")
    expect(result.locator("#desk-ticket .desk-fact-ahead .desk-fact-value")).to_have_text("0 人")  # before the two
    expect(result.locator("#desk-ticket .desk-fact-ahead .desk-fact-note")).to_have_text("排第 1 位")
    wait = result.locator("#desk-ticket .desk-fact-wait .desk-fact-value")
    expect(wait).to_have_text(re.compile(r"^(约 \d+ 分钟|即将叫号)$"))
    expect(result.locator("#desk-ticket .desk-ticket-service")).to_have_text("A · 现金存取")
    qr_loaded(page)
    page.screenshot_as("desk-ticket-result-priority-1440-zh")

    # On the server: a priority ticket in English, first in A's list, before the two from the kiosk.
    tickets = queue(server, "A")
    assert [t["number"] for t in tickets] == [issued, *ahead], tickets
    assert tickets[0]["priority"] is True and tickets[0]["lang"] == "en", tickets[0]

    # The printed copy is the customer's, in English; printing shows it alone.
    paper = result.locator("#desk-print")
    expect(paper).to_be_hidden()
    page.emulate_media(media="print")
    expect(paper).to_be_visible()
    expect(paper.locator(".desk-number")).to_have_text(issued)
    expect(paper.locator(".desk-priority-mark")).to_have_text("Priority customer")
    expect(paper).to_contain_text("Scan to follow your ticket")
    for hidden in ("header.topbar", "#view-dashboard", "#desk-ticket", "#desk-print-button", "#desk-result-title"):
        expect(page.locator(hidden)).to_be_hidden()
    qr_loaded(page, "#desk-print .desk-qr img")
    page.screenshot_as("desk-ticket-print-en")
    page.emulate_media(media="screen")
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    page.click("#desk-print-button")
    assert page.evaluate("window.printed") == 1

    page.click("#desk-close")
    expect(page.locator("#desk-dialog")).to_be_hidden()
    expect(page.locator("#issue-ticket")).to_be_focused()
    # The dashboard's queue shows the priority customer.
    expect(page.locator("#queue-rows tr[data-service='A']")).to_have_attribute("data-priority", "1", timeout=LIVE_MS)


def test_a_double_tap_on_issue_gives_one_ticket_and_each_dialog_its_own_idempotency_key(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, DESK)
    posts: list[dict[str, Any]] = []
    page.on("request", lambda r: posts.append({"key": r.headers.get("idempotency-key"), "body": r.post_data})
            if r.method == "POST" and r.url.endswith("/api/v1/tickets") else None)
    before = [t["number"] for t in queue(server, "B")]

    dialog = open_dialog(page)
    dialog.locator("label.desk-service[data-service='B']").click()
    dialog.locator("#desk-confirm").dblclick()
    number = dialog.locator("#desk-ticket .desk-number")
    expect(number).to_have_text(re.compile(r"^B\d{3}$"))
    first = number.text_content() or ""  # (the locator reads the page anew each time: keep the text)
    page.wait_for_timeout(500)  # a second request, had one gone, would have been answered by now
    after = [t["number"] for t in queue(server, "B")]
    assert after == [*before, first], (before, after)
    assert posts and all(p["key"] and p["key"] == posts[0]["key"] for p in posts), posts
    assert json.loads(posts[0]["body"]) == {"service": "B", "lang": "zh", "priority": False}

    # The same key again (a retry after a lost answer) gives back the same ticket, not a new one.
    again = server.post("/tickets", MANAGER, json={"service": "B", "lang": "zh", "priority": False},
                        headers={"Idempotency-Key": posts[0]["key"]})
    assert again.status_code == 200 and again.json()["number"] == first, again.text
    assert len(queue(server, "B")) == len(after)

    # A new dialog is a new customer: a new key, a new ticket.
    page.keyboard.press("Escape")
    expect(page.locator("#desk-dialog")).to_be_hidden()
    dialog = open_dialog(page)
    dialog.locator("label.desk-service[data-service='B']").click()
    dialog.locator("#desk-confirm").click()
    expect(dialog.locator("#desk-ticket .desk-number")).to_have_text(re.compile(r"^B\d{3}$"))
    expect(dialog.locator("#desk-ticket .desk-number")).not_to_have_text(first)
    assert len({p["key"] for p in posts}) == 2, posts
    assert len(queue(server, "B")) == len(after) + 1


def test_the_dialog_works_from_the_keyboard_with_focus_kept_inside_and_esc_closing_it(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, TABLET)
    page.focus("#issue-ticket")
    page.keyboard.press("Enter")
    dialog = page.locator("#desk-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name='desk-service']").first).to_be_focused()

    inside = "() => document.getElementById('desk-dialog').contains(document.activeElement)"
    reached = set()
    for key in ["Tab"] * 8 + ["Shift+Tab"] * 8:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"focus left the dialog after {key}"
        reached.add(page.evaluate("() => document.activeElement.id || document.activeElement.name"))
    assert {"desk-service", "desk-priority", "desk-lang", "desk-cancel", "desk-confirm"} <= reached, reached

    # Confirm with no service chosen: told to choose one.
    page.focus("#desk-confirm")
    page.keyboard.press("Enter")
    expect(dialog.locator("#desk-error")).to_have_text("请先选择业务。")
    # Choose D with the arrow keys, tick priority with the space bar, issue with Enter.
    page.focus("input[name='desk-service'] >> nth=0")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(dialog.locator("input[name='desk-service']:checked")).to_have_value("D")
    expect(dialog.locator("#desk-error")).to_be_hidden()
    page.focus("#desk-priority")
    page.keyboard.press("Space")
    expect(dialog.locator("#desk-priority")).to_be_checked()
    page.focus("#desk-confirm")
    page.keyboard.press("Enter")
    expect(dialog.locator("#desk-ticket .desk-number")).to_have_text(re.compile(r"^D\d{3}$"))
    expect(dialog.locator("#desk-print-button")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
    issued = dialog.locator("#desk-ticket .desk-number").text_content()
    assert queue(server, "D")[0]["number"] == issued and queue(server, "D")[0]["priority"] is True

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#issue-ticket")).to_be_focused()


def test_an_unknown_service_is_told_in_the_managers_words(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, DESK)
    english(page)
    # The service is withdrawn between the choice and the confirmation: the request asks for one the
    # server does not know, and the server answers 422 unknown_service.
    def withdrawn(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "service": "Z"}))

    page.route("**/api/v1/tickets", withdrawn)
    count = len(queue(server, "C"))
    dialog = open_dialog(page)
    dialog.locator("label.desk-service[data-service='C']").click()
    dialog.locator("#desk-confirm").click()
    expect(dialog.locator("#desk-error")).to_have_text(
        "This branch does not offer that service (it may just have been withdrawn); choose again.")
    expect(dialog.locator("#desk-form")).to_be_visible()
    expect(dialog.locator("#desk-confirm")).to_be_enabled()
    assert len(queue(server, "C")) == count
    expect_refusals(page, 422)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", [DESK, TABLET], ids=["desk-1440x900", "tablet-1024x768"])
def test_the_dialog_and_the_ticket_fit_the_desk_and_the_tablet(server, open_page, viewport, lang):
    page = open_dashboard(open_page, server, MANAGER, viewport)
    if lang == "en":
        english(page)
    width = viewport[0]
    # The button is in the top bar, which keeps its height (it does not push the dashboard down a line).
    bar = page.evaluate("() => [document.querySelector('.topbar').getBoundingClientRect().height, innerWidth]")
    assert bar[0] <= (60 if width >= 1440 else 120), bar
    dialog = open_dialog(page)
    dialog.locator("label.desk-service[data-service='C']").click()
    dialog.locator("label.desk-priority").click()
    dialog.locator(f"label.desk-lang[data-lang='{lang}']").click()
    expect(dialog.locator(".desk-service-wait").first).to_contain_text("waiting" if lang == "en" else "人等候")
    assert_fits(page)
    page.screenshot_as(f"desk-ticket-form-{width}-{lang}")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("axe.run(document.getElementById('desk-dialog'), {resultTypes: ['violations']})")
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations["violations"]] == []

    dialog.locator("#desk-confirm").click()
    expect(dialog.locator("#desk-ticket .desk-number")).to_have_text(re.compile(r"^C\d{3}$"))
    expect(dialog.locator("#desk-ticket .desk-priority-mark")).to_have_text(
        "Priority customer" if lang == "en" else "优先客户")
    expect(dialog.locator("#desk-result-title")).to_have_text("Ticket issued" if lang == "en" else "已出号")
    qr_loaded(page)
    assert_fits(page)
    # The number reads across a desk: much larger than the text around it.
    size = dialog.locator("#desk-ticket .desk-number").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 64, size
    page.screenshot_as(f"desk-ticket-result-{width}-{lang}")
    violations = page.evaluate("axe.run(document.getElementById('desk-dialog'), {resultTypes: ['violations']})")
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations["violations"]] == []


def test_five_services_with_long_names_still_fit_the_tablet(demo_server, open_page):
    page = open_dashboard(open_page, demo_server, MANAGER, TABLET)
    english(page)
    page.click("#issue-ticket")
    dialog = page.locator("#desk-dialog")
    expect(dialog.locator("label.desk-service")).to_have_count(5)
    expect(dialog.locator("label.desk-service[data-service='A']")).to_contain_text("Cash deposit & withdrawal")
    dialog.locator("label.desk-service[data-service='E']").click()
    dialog.locator("label.desk-priority").click()
    assert_fits(page)
    page.screenshot_as("desk-ticket-form-demo-1024-en")
    dialog.locator("#desk-confirm").click()
    expect(dialog.locator("#desk-ticket .desk-number")).to_have_text(re.compile(r"^E\d{3}$"))
    expect(dialog.locator("#desk-ticket .desk-ticket-service")).to_have_text("E · Business banking")
    qr_loaded(page)
    assert_fits(page)
    page.screenshot_as("desk-ticket-result-demo-1024-en")


def test_after_closing_time_the_dialog_says_the_branch_is_closed_and_names_the_next_opening(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, DESK)
    english(page)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 9 * 3600}))  # 09:0x -> 18:0x, closed
    expect(page.locator("#hours-state")).to_have_attribute("data-hours", "closed", timeout=LIVE_MS)
    before = ok(server.get("/reports/daily", MANAGER))["headline"]["tickets"]

    dialog = open_dialog(page)
    dialog.locator("label.desk-service[data-service='A']").click()
    dialog.locator("label.desk-lang[data-lang='en']").click()
    dialog.locator("#desk-confirm").click()
    error = dialog.locator("#desk-error")
    # The server's own message (in the customer's language, English here) names the next opening.
    expect(error).to_have_text("No tickets can be issued now. The branch is closed. Next opening: Tue 1 Dec, 09:00.")
    page.screenshot_as("desk-ticket-closed-1440-en")

    # A Chinese-speaking customer: the server would say it in Chinese; the manager reads English.
    dialog.locator("label.desk-lang[data-lang='zh']").click()
    dialog.locator("#desk-confirm").click()
    expect(error).to_have_text("No tickets can be issued now. Next opening: Tue 1 Dec, 09:00")
    expect(dialog.locator("#desk-result")).to_be_hidden()
    assert ok(server.get("/reports/daily", MANAGER))["headline"]["tickets"] == before
    expect_refusals(page, 409, 409)
