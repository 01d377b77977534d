"""The complaint register in Chromium: the lobby manager records a complaint of any of the seven kinds
from the dashboard (/manager) — from the top bar with nothing prefilled, from a counter tile with its
counter and customer, from an alert card with its counter and the kind its rule foretells, from a
ticket issued at the desk — and the teller from the console (/counter) about their counter and
customer. Every complaint is read back from GET /api/v1/complaints.

One module server on the manual clock; the tests run in file order and the day moves on between
them. mia is the lobby manager; lin works at counter 1 (A, B), zhou at counter 2 (A, B).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, expect_refusals, open_dashboard, sign_in
from tests.support.callwise import CallwiseServer

MANAGER, KIOSK, DISPLAY = "mia", "door", "lobby"
TABLET = (1024, 768)
PHONE = (390, 844)
CONSOLE = (1280, 800)
KINDS = ["teller_error", "inconsistent_instructions", "short_queue_wait", "idle_during_service", "idle_counter",
         "counters_paused", "other"]
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"

# The sheet lies wholly in the window, and everything in it that takes a tap is at least 44 px.
FITS = """() => {
  const dialog = document.getElementById('complaint-dialog');
  const d = dialog.getBoundingClientRect();
  return {top: d.top, bottom: d.bottom, left: d.left, right: d.right, width: innerWidth, height: innerHeight,
          scrolls: dialog.scrollHeight > dialog.clientHeight + 1,
          small: [...dialog.querySelectorAll('button, label.desk-option, label.complaint-chip')]
            .filter((e) => e.getClientRects().length)
            .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect().width,
                         e.getBoundingClientRect().height])
            .filter(([, w, h]) => w < 44 || h < 44)};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "complaints",
                             staff={MANAGER: "manager", "lin": "teller", "zhou": "teller"},
                             devices={KIOSK: "kiosk", DISPLAY: "display"})


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def complaints(server: CallwiseServer) -> list[dict[str, Any]]:
    return list(ok(server.get("/complaints", MANAGER)))


def sheet_fits(page: Any) -> None:
    box = page.evaluate(FITS)
    assert box["top"] >= 0 and box["left"] >= 0, box
    assert box["bottom"] <= box["height"] and box["right"] <= box["width"], box
    assert not box["scrolls"], box
    assert box["small"] == [], box


def axe_violations(page: Any, selector: str) -> list[Any]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(f"axe.run(document.querySelector('{selector}'), {{resultTypes: ['violations']}})")
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


def record(page: Any, kind: str, text: str = "") -> None:
    """In the open sheet: the kind, the customer's words if any, Record; the sheet closes."""
    sheet = page.locator("#complaint-dialog")
    sheet.locator(f"label.complaint-kind-option[data-kind='{kind}']").click()
    if text:
        sheet.locator("#complaint-text").fill(text)
    sheet.locator("#complaint-submit").click()
    expect(sheet).to_be_hidden()


def test_every_kind_is_recorded_from_the_dashboards_record_button_in_two_taps(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, TABLET)
    sheet = page.locator("#complaint-dialog")
    opener = page.locator("#record-complaint")
    expect(opener).to_have_text("记录投诉")

    # Nothing chosen: Record asks for a kind, in the sheet.
    opener.click()
    expect(sheet).to_be_visible()
    expect(sheet.locator("#complaint-about-none")).to_have_text("不涉及具体窗口或客户")
    expect(sheet.locator("label.complaint-kind-option")).to_have_count(7)
    expect(sheet.locator("label.complaint-kind-option[data-kind='short_queue_wait']")).to_have_text("人少久等")
    sheet.locator("#complaint-submit").click()
    expect(sheet.locator("#complaint-error")).to_have_text("请先选择投诉类型。")
    # Esc closes it, and nothing is recorded.
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    assert complaints(server) == []

    listed = page.locator("#complaint-list li.complaint")
    for index, kind in enumerate(KINDS):
        opener.click()
        expect(sheet).to_be_visible()
        if index == 0:
            sheet.locator("label.complaint-kind-option[data-kind='teller_error']").click()
            sheet.locator("#complaint-text").fill("存款金额输错，重新办理了一遍")
            sheet_fits(page)
            page.screenshot_as("complaint-sheet-1024-zh")
            assert axe_violations(page, "#complaint-dialog") == []
        record(page, kind)
        expect(listed).to_have_count(index + 1)
        expect(listed.first).to_have_attribute("data-kind", kind)  # the newest on top

    recorded = complaints(server)
    assert [c["kind"] for c in recorded] == KINDS
    assert all(c["ticket"] is None and c["counter"] is None for c in recorded), recorded
    assert recorded[0]["text"] == "存款金额输错，重新办理了一遍"
    assert all(c["warned"] is None for c in recorded), recorded  # no alert before any of them
    first = listed.last
    expect(first.locator(".complaint-kind")).to_have_text("柜员差错")
    expect(first.locator(".instruction-text")).to_have_text("存款金额输错，重新办理了一遍")
    expect(first.locator(".complaint-warned")).to_have_text("此前没有预警")
    expect(first.locator(".complaint-by")).to_have_text("mia 记录")
    expect(page.locator("#complaints-title")).to_have_text("今日投诉")

    # In English: the sheet's words follow, the kinds too; digits pick a kind from the keyboard.
    page.click("#lang-toggle")
    expect(opener).to_have_text("Record complaint")
    opener.click()
    expect(sheet.locator("#complaint-title")).to_have_text("Record a complaint")
    page.keyboard.press("2")
    expect(sheet.locator("input[value='inconsistent_instructions']")).to_be_checked()
    expect(sheet.locator("label.complaint-kind-option[data-kind='inconsistent_instructions']")).to_have_text(
        "Lobby and counter said different things")
    sheet.locator("#complaint-text").fill("The desk said a passport was enough")
    sheet_fits(page)
    page.screenshot_as("complaint-sheet-1024-en")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(first.locator(".complaint-warned")).to_have_text("no alert before it")
    page.click("#lang-toggle")  # back to Chinese for the tests after (the choice is remembered per browser)
    assert len(complaints(server)) == 7


def test_from_an_alert_card_the_sheet_has_its_counter_and_kind_and_the_list_says_it_was_warned(server, open_page):
    ok(server.post("/counters/1/open", "lin"))
    page = open_dashboard(open_page, server, MANAGER, TABLET)
    server.issue("A", KIOSK)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 70}))  # counter 1 free for a minute, one waiting

    card = page.locator("li.alert[data-rule='idle_counter']")
    expect(card).to_have_count(1)
    card.locator("button.ack").click()
    expect(card.locator(".ack-state")).to_contain_text("mia")
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 120}))

    button = card.locator("button.complaint-open")
    expect(button).to_have_text("投诉…")
    button.click()
    sheet = page.locator("#complaint-dialog")
    expect(sheet.locator("#complaint-source")).to_have_text("来自预警：窗口空闲")
    expect(sheet.locator("label.complaint-chip")).to_have_text(["1号窗口（lin）"])
    expect(sheet.locator("input[name='complaint-kind']:checked")).to_have_value("idle_counter")  # the rule's kind
    sheet.locator("#complaint-submit").click()
    expect(sheet).to_be_hidden()

    [latest] = [c for c in complaints(server) if c["counter"] == 1]
    assert (latest["kind"], latest["ticket"], latest["text"]) == ("idle_counter", None, "")
    warned = latest["warned"]
    assert (warned["rule"], warned["acknowledged"], warned["acted"]) == ("idle_counter", True, False), warned
    item = page.locator(f"#complaint-list li.complaint[data-id='{latest['id']}']")
    expect(item.locator(".complaint-where")).to_have_text("1号窗口（lin）")
    expect(item.locator(".complaint-warned")).to_have_text(
        re.compile(r"^提前 \d+ 分(钟| \d+ 秒)预警“窗口空闲” · 已确认 · 未处理$"))
    expect(item.locator(".complaint-warned")).to_have_attribute("data-acted", "false")
    expect(item.locator(".instruction-text")).to_have_count(0)  # no words were written
    page.screenshot_as("complaint-list-warned-1024-zh")

    ok(server.post("/counters/1/call-next", "lin"))  # lin calls at last: the card resolves
    expect(card).to_have_count(0)


def test_from_a_counter_tile_and_a_desk_ticket_the_sheet_has_the_counter_and_the_customer(server, open_page):
    ok(server.post("/counters/1/start", "lin"))  # the customer lin called at the end of the last test
    serving = next(c for c in ok(server.get("/counters", MANAGER)) if c["number"] == 1)["current_ticket"]
    page = open_dashboard(open_page, server, MANAGER, TABLET)
    sheet = page.locator("#complaint-dialog")
    tile = page.locator(".tile[data-counter='1']")
    expect(tile.locator(".ticket-number")).to_have_text(serving["number"])

    button = tile.locator("button.complaint-open")
    expect(button).to_have_attribute("aria-label", f"记录投诉：1号窗口（lin） · {serving['number']}")
    button.click()
    chips = sheet.locator("label.complaint-chip")
    expect(chips).to_have_text(["1号窗口（lin）", f"客户 {serving['number']}"])
    expect(sheet.locator("#complaint-source")).to_be_hidden()
    expect(sheet.locator("input[name='complaint-kind']:checked")).to_have_count(0)
    record(page, "idle_during_service", "复印身份证等了很久")
    recorded = complaints(server)[-1]
    assert (recorded["kind"], recorded["counter"], recorded["ticket"]) == (
        "idle_during_service", 1, {"id": serving["id"], "number": serving["number"]})
    item = page.locator(f"#complaint-list li.complaint[data-id='{recorded['id']}']")
    expect(item.locator(".complaint-where")).to_have_text(f"1号窗口（lin） · {serving['number']}")

    # Unticked, the customer is left out: a complaint about the counter alone.
    button.click()
    chips.filter(has_text="客户").click()
    expect(sheet.locator("input[name='complaint-about-ticket']")).not_to_be_checked()
    record(page, "teller_error")
    recorded = complaints(server)[-1]
    assert (recorded["kind"], recorded["counter"], recorded["ticket"]) == ("teller_error", 1, None)

    # A refusal is told in the sheet, which keeps what was chosen: here the server is sent a
    # ticket it does not know (the request is altered on its way), and says 404 unknown_ticket.
    def unknown_ticket(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "ticket": 987654}))

    page.route("**/api/v1/complaints", unknown_ticket)
    button.click()
    sheet.locator("label.complaint-kind-option[data-kind='other']").click()
    sheet.locator("#complaint-submit").click()
    expect(sheet.locator("#complaint-error")).to_have_text("本网点没有这张号票：请取消勾选客户后再记录。")
    expect(sheet).to_be_visible()
    expect(sheet.locator("input[value='other']")).to_be_checked()
    expect(sheet.locator("#complaint-submit")).to_be_enabled()
    expect_refusals(page, 404)
    page.unroute("**/api/v1/complaints")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    # A ticket just issued at the desk: Record complaint closes it and opens the sheet with that customer.
    page.click("#issue-ticket")
    desk = page.locator("#desk-dialog")
    desk.locator("label.desk-service[data-service='B']").click()
    desk.locator("#desk-confirm").click()
    number = desk.locator("#desk-ticket .desk-number")
    expect(number).to_have_text(re.compile(r"^B\d{3}$"))
    issued = number.text_content()
    desk.locator("#desk-complaint").click()
    expect(desk).to_be_hidden()
    expect(chips).to_have_text([f"客户 {issued}"])
    record(page, "short_queue_wait")
    recorded = complaints(server)[-1]
    assert (recorded["kind"], recorded["counter"], recorded["ticket"]["number"]) == ("short_queue_wait", None, issued)
    assert len(complaints(server)) == 11


def test_the_sheet_fits_a_phone(server, open_page):
    page = open_dashboard(open_page, server, MANAGER, PHONE)
    tile = page.locator(".tile[data-counter='1']")
    tile.locator("button.complaint-open").click()
    sheet = page.locator("#complaint-dialog")
    expect(sheet.locator("label.complaint-chip")).to_have_count(2)
    sheet.locator("label.complaint-kind-option[data-kind='counters_paused']").click()
    sheet_fits(page)
    page.screenshot_as("complaint-sheet-390-zh")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()


def test_the_teller_records_any_kind_about_their_counter_and_customer_from_the_console(server, open_page):
    page = open_page(server.base_url + "/counter", viewport=CONSOLE)
    sign_in(page, "zhou")
    page.locator("#counter-list li[data-number='2']").get_by_role("button").click()
    expect(page.locator("#topbar-counter")).to_have_text("2号窗口")
    expect(page.locator("#shortcut-note")).to_contain_text("C 记录客户投诉")
    expect(page.locator("#btn-call")).to_be_enabled()  # the B customer issued at the desk waits
    page.locator("#ticket-number").click()
    page.keyboard.press("NumpadAdd")
    expect(page.locator("#state-badge")).to_have_text("呼叫中")
    ticket = next(c for c in ok(server.get("/counters", MANAGER)) if c["number"] == 2)["current_ticket"]
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    page.screenshot_as("console-complaint-button-1280-zh")

    # C: the kinds under digits, about counter 2 and the customer called, both ticked.
    dialog = page.locator("#lobby-dialog")
    page.keyboard.press("c")
    expect(dialog.locator("#lobby-dialog-title")).to_have_text("记录客户投诉")
    expect(dialog.locator("label.lobby-about-item")).to_have_text(["2号窗口", f"客户 {ticket['number']}"])
    expect(dialog.locator("#lobby-options button")).to_have_count(7)
    expect(dialog.locator("button[data-key='3']")).to_contain_text("人少久等")
    dialog.locator("#lobby-text").fill("前面只有一个人，等了二十分钟")
    page.screenshot_as("console-complaint-1280-zh")
    assert axe_violations(page, "#lobby-dialog") == []
    page.keyboard.press("Enter")  # from the words to the kinds
    page.keyboard.press("Numpad3")
    expect(dialog).to_be_hidden()
    expect(page.locator("#lobby-notice")).to_have_text("投诉已记录并告知大堂经理：人少久等")
    recorded = complaints(server)[-1]
    assert (recorded["kind"], recorded["counter"], recorded["ticket"]["id"], recorded["text"]) == (
        "short_queue_wait", 2, ticket["id"], "前面只有一个人，等了二十分钟")
    assert recorded["recorded_by"] == "zhou"
    # The customer's context lists it among what the lobby recorded.
    expect(page.locator("#context-lobby")).to_contain_text("人少久等")

    # The button, a customer unticked: about the counter alone, no words.
    page.locator("#btn-complaint").click()
    dialog.locator("label.lobby-about-item").filter(has_text="客户").click()
    dialog.locator("button[data-value='counters_paused']").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#lobby-notice")).to_have_text("投诉已记录并告知大堂经理：窗口暂停过多")
    recorded = complaints(server)[-1]
    assert (recorded["kind"], recorded["counter"], recorded["ticket"]) == ("counters_paused", 2, None)

    # Every kind, from the keyboard alone: C, then the kind's digit (the words are optional).
    before = len(complaints(server))
    for digit in range(1, len(KINDS) + 1):
        page.locator("#ticket-number").click()  # off the button that opened the last one
        page.keyboard.press("c")
        expect(dialog).to_be_visible()
        page.keyboard.press(f"Numpad{digit}")
        expect(dialog).to_be_hidden()
        for _ in range(50):  # recorded on the server before the next one (the notice still shows the last)
            if len(complaints(server)) == before + digit:
                break
            page.wait_for_timeout(100)
    recorded = complaints(server)[before:]
    assert [(c["kind"], c["counter"], (c["ticket"] or {}).get("id")) for c in recorded] == [
        (kind, 2, ticket["id"]) for kind in KINDS]

    # The console's own keys are still its own: Esc closes the dialog and nothing is recorded.
    page.keyboard.press("C")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert len(complaints(server)) == before + len(KINDS)


def test_the_display_and_the_kiosk_have_no_complaint_button(server, open_page):
    for path, ready in ((f"/display?device={server.tokens[DISPLAY]}", "body[data-snapshots='1']"),
                        (f"/kiosk?device={server.tokens[KIOSK]}", "#screen-services:not([hidden]) .service")):
        page = open_page(server.base_url + path, viewport=(1280, 800))
        page.wait_for_selector(ready)
        assert page.locator("#record-complaint, #btn-complaint, .complaint-open, #complaint-dialog").count() == 0
        assert "投诉" not in page.locator("body").inner_text()
