"""The lobby manager and the counters talk, in Chromium: the dashboard (/manager) and the teller's
console (/counter) open side by side against one real server on the manual clock, and the
customer's phone page (/t/<token>) where a help request concerns its ticket.

One module server: the tests run in file order and the day moves on between them. mia is the lobby
manager; lin works at counter 1 (A, B), zhou at counter 2 (A, B).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, open_dashboard, sign_in
from tests.support.callwise import CallwiseServer

MANAGER, KIOSK = "mia", "door"
DASHBOARD = (1440, 900)
CONSOLE = (1280, 800)
PHONE = (390, 844)
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "lobby", staff={MANAGER: "manager", "lin": "teller", "zhou": "teller"},
                             devices={KIOSK: "kiosk"})


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def advance(server: CallwiseServer, seconds: float) -> None:
    ok(server.post("/clock/advance", MANAGER, json={"seconds": seconds}))


def dashboard(open_page: Any, server: CallwiseServer, viewport: tuple[int, int] = DASHBOARD) -> Any:
    return open_dashboard(open_page, server, MANAGER, viewport)


def console(open_page: Any, server: CallwiseServer, teller: str, counter: int) -> Any:
    """The teller's console, logged in through the form and signed in at ``counter`` (or back at it,
    when an earlier test left the teller signed in there)."""
    page = open_page(server.base_url + "/counter", viewport=CONSOLE)
    sign_in(page, teller)
    page.wait_for_selector("#view-console:not([hidden]), #view-pick:not([hidden]) #counter-list li")
    if page.locator("#view-pick").is_visible():
        page.locator(f"#counter-list li[data-number='{counter}']").get_by_role("button").click()
    expect(page.locator("#topbar-counter")).to_have_text(f"{counter}号窗口")
    expect(page.locator("#live-dot")).to_have_class(re.compile(r"\bonline\b"))
    return page


def press(page: Any, key: str) -> None:
    """A key on the console once its last action has been answered (a key pressed while one is in
    flight may be dropped, or queued; either way these tests wait for the state it was meant for)."""
    expect(page.locator("#app")).to_have_attribute("aria-busy", "false")
    page.keyboard.press(key)


def accessibility_violations(page: Any) -> list[Any]:
    """axe-core's violations on the page as it is now (contrast, labels, roles...)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


def instructions(server: CallwiseServer) -> list[dict[str, Any]]:
    return list(ok(server.get("/instructions", MANAGER)))


def test_an_instruction_from_an_alert_card_reaches_the_console_at_once_and_its_answer_comes_back(server, open_page):
    manager = dashboard(open_page, server)
    teller = console(open_page, server, "lin", 1)
    ticket = server.issue("A", KIOSK)
    expect(teller.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("1 人")
    advance(server, 60)  # lin's counter has been free for a minute with a customer waiting

    card = manager.locator("li.alert[data-rule='idle_counter']")
    expect(card).to_have_count(1)
    act = card.locator("button.act")
    expect(act).to_have_text("请1号窗口（lin）叫号")  # the alert's action, as a button that does it
    expect(teller.locator("#instruction-banner")).to_be_hidden()
    act.click()

    # The console shows it at once, across the top, impossible to miss, with a chime.
    banner = teller.locator("#instruction-banner")
    expect(banner).to_be_visible()
    expect(teller.locator("#instruction-what")).to_have_text("请叫下一位")
    expect(teller.locator("#instruction-meta")).to_contain_text("mia")
    expect(banner).to_have_attribute("data-chimes", "1")
    box, call, viewport = banner.bounding_box(), teller.locator("#btn-call").bounding_box(), teller.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box  # on screen without scrolling
    assert box["width"] >= 0.9 * (viewport["width"] - 48) and box["height"] >= 100, box  # across the console
    assert box["y"] < call["y"], (box, call)  # above everything the teller works with
    assert float(teller.locator("#instruction-what").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 30
    teller.screenshot_as("console-instruction")
    assert accessibility_violations(teller) == []

    # The card says it was sent, and the dashboard's instruction list has it, awaiting the answer.
    expect(card.locator(".instruction-status")).to_contain_text("1号窗口（lin） · 等待回复")
    expect(act).to_be_disabled()
    sent = manager.locator("#instruction-list li.instruction")
    expect(sent).to_have_count(1)
    expect(sent).to_have_attribute("data-state", "open")
    expect(sent.locator(".instruction-what")).to_have_text("请叫下一位")

    # lin cannot (keypad /), and says why: a quick reason picked with a digit, after a word of their own.
    teller.locator("#ticket-number").click()
    press(teller, "NumpadDivide")
    dialog = teller.locator("#lobby-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#lobby-dialog-title")).to_have_text("无法照办：原因")
    dialog.locator("#lobby-text").fill("VIP 客户马上到")
    teller.keyboard.press("Enter")  # from the word to the reasons
    press(teller, "Numpad1")
    expect(dialog).to_be_hidden()
    expect(banner).to_be_hidden()
    expect(teller.locator("#lobby-notice")).to_contain_text("无法照办")

    # The dashboard hears the answer: on the card and in the list, with the reason.
    expect(sent).to_have_attribute("data-state", "cannot")
    expect(sent.locator(".instruction-answer")).to_have_text("无法照办 — 正在为客户办理，办完再做：VIP 客户马上到")
    expect(card.locator(".instruction-status")).to_have_text(
        "1号窗口（lin）：无法照办 — 正在为客户办理，办完再做：VIP 客户马上到")
    expect(act).to_be_enabled()  # the manager may ask again
    [answered] = [i for i in instructions(server) if i["alert_id"] is not None]
    assert (answered["answer"], answered["answer_text"]) == ("cannot", "正在为客户办理，办完再做：VIP 客户马上到")
    manager.screenshot_as("dashboard-instruction-answered")
    assert accessibility_violations(manager) == []

    press(teller, "NumpadAdd")  # lin calls after all: the card resolves
    expect(teller.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(card).to_have_count(0)
    press(teller, "Numpad0")
    expect(teller.locator("#state-badge")).to_have_text("办理中")
    press(teller, "Numpad1")
    expect(teller.locator("#state-badge")).to_have_text("空闲")


def test_an_unanswered_instruction_is_flagged_on_the_dashboard_after_a_minute(server, open_page):
    manager = dashboard(open_page, server)
    teller = console(open_page, server, "zhou", 2)

    # From counter 2's tile: "come to the lobby desk", with a word.
    tile = manager.locator(".tile[data-counter='2']")
    expect(tile.locator(".tile-staff")).to_have_text("zhou")
    tile.locator("button.instruct").click()
    dialog = manager.locator("#instruct-dialog")
    expect(dialog.locator("#instruct-title")).to_have_text("给2号窗口（zhou）的指示")
    expect(dialog.locator("button[data-kind='end_pause']")).to_have_count(0)  # zhou is not paused
    dialog.locator("#instruct-text").fill("带上今天的差错单")
    dialog.locator("button[data-kind='come_to_desk']").click()
    expect(dialog).to_be_hidden()

    expect(teller.locator("#instruction-what")).to_have_text("请到大堂经理处")
    expect(teller.locator("#instruction-note")).to_have_text("带上今天的差错单")
    item = manager.locator("#instruction-list li.instruction[data-state='open']")
    expect(item).to_have_count(1)
    expect(tile.locator(".tile-flag.pending-instruction")).to_have_text("指示待回复")

    advance(server, 61)  # a minute and more without an answer
    overdue = manager.locator("#instruction-list li.instruction").first  # flagged, at the top
    expect(overdue).to_have_attribute("data-state", "overdue")
    expect(overdue.locator(".instruction-state")).to_contain_text("超时未回复")
    expect(overdue.locator(".instruction-who")).to_have_text("2号窗口（zhou）")
    assert overdue.evaluate("e => getComputedStyle(e).borderLeftColor") == "rgb(179, 38, 30)"  # the danger red
    expect(manager.locator("#lobby-count")).to_have_attribute("data-severity", "critical")
    expect(tile.locator(".tile-flag.pending-instruction.critical")).to_have_text("指示超时未回复")
    expect(teller.locator("#instruction-banner")).to_have_class(re.compile(r"\blate\b"))
    [late] = [i for i in instructions(server) if i["kind"] == "come_to_desk"]
    assert late["overdue"] is True
    manager.screenshot_as("dashboard-instruction-overdue")

    teller.locator("#ticket-number").click()
    press(teller, "NumpadMultiply")  # done
    expect(teller.locator("#instruction-banner")).to_be_hidden()
    expect(overdue).to_have_attribute("data-state", "done")
    expect(overdue.locator(".instruction-answer")).to_have_text("已照办")
    expect(tile.locator(".tile-flag.pending-instruction")).to_have_count(0)


def test_help_with_a_reason_is_answered_on_my_way_then_done_on_the_dashboard_console_and_phone(server, open_page):
    manager = dashboard(open_page, server)
    teller = console(open_page, server, "zhou", 2)
    ticket = server.issue("B", KIOSK)
    phone = open_page(f"{server.base_url}/t/{ticket['token']}", viewport=PHONE, has_touch=True, is_mobile=True)
    expect(phone.locator("#live-dot")).to_have_class(re.compile(r"\bonline\b"))

    teller.locator("#ticket-number").click()
    press(teller, "NumpadAdd")
    expect(teller.locator("#ticket-number")).to_have_text(ticket["number"])
    press(teller, "Numpad0")
    expect(teller.locator("#state-badge")).to_have_text("办理中")

    # 5: the reasons, from the keyboard; a word first, Enter, then the reason's digit.
    press(teller, "Numpad5")
    dialog = teller.locator("#lobby-dialog")
    expect(dialog.locator("button[data-value='documents']")).to_contain_text("材料问题")
    dialog.locator("#lobby-text").fill("旧版身份证")
    teller.screenshot_as("console-help-reasons")
    assert accessibility_violations(teller) == []
    teller.keyboard.press("Enter")
    teller.keyboard.press(f"Numpad{dialog.locator('button[data-value=documents]').get_attribute('data-key')}")
    expect(dialog).to_be_hidden()
    flag = teller.locator("#help-flag")
    expect(flag).to_have_text("已请求协助（材料问题）：等待经理")
    expect(phone.locator("#state-help")).to_be_visible()
    expect(phone.locator("#help-title")).to_have_text("您的业务正在等待授权")

    card = manager.locator("li.alert[data-rule='help_requested']")
    expect(card).to_have_count(1)
    expect(card.locator(".alert-detail")).to_have_text("原因：材料问题 · 旧版身份证")
    expect(manager.locator(".tile[data-counter='2'] .tile-flag.help")).to_have_text("求助 · 等待经理")
    manager.screenshot_as("dashboard-help-requested")

    card.locator("button[data-act='on_my_way']").click()
    expect(flag).to_have_text("已请求协助（材料问题）：经理正在赶来")
    teller.screenshot_as("console-help-on-the-way")
    expect(phone.locator("#help-title")).to_have_text("大堂经理正在赶来")
    phone.screenshot_as("phone-help-on-the-way")
    expect(card.locator(".responder")).to_have_text("mia 正在前往")
    expect(card).to_have_count(1)  # only done ends it

    phone.click("#lang-toggle")
    expect(phone.locator("#help-title")).to_have_text("The manager is on the way")

    card.locator("button[data-act='done']").click()
    expect(card).to_have_count(0)
    expect(flag).to_be_hidden()
    expect(teller.locator("#btn-help")).to_be_enabled()
    expect(phone.locator("#state-serving")).to_be_visible()


def test_the_customer_was_told_something_different_in_the_lobby_reaches_the_dashboard(server, open_page):
    manager = dashboard(open_page, server)
    teller = console(open_page, server, "zhou", 2)  # still serving the B customer of the last test
    expect(teller.locator("#state-badge")).to_have_text("办理中")
    number = teller.locator("#ticket-number").text_content()

    teller.locator("#ticket-number").click()
    press(teller, "Numpad6")
    dialog = teller.locator("#lobby-dialog")
    expect(dialog.locator("#lobby-dialog-title")).to_have_text("客户在大堂听到的说法不同")
    expect(dialog.locator("button[data-key='1']")).to_contain_text("银行卡")  # service B's documents
    dialog.locator("#lobby-text").fill("大堂说带身份证就可以")
    teller.screenshot_as("console-told-otherwise")
    teller.keyboard.press("Enter")
    press(teller, "Numpad1")
    expect(teller.locator("#lobby-notice")).to_contain_text("银行卡")

    complaint = manager.locator("#complaint-list li.complaint")
    expect(complaint).to_have_count(1)
    expect(complaint).to_have_attribute("data-kind", "inconsistent_instructions")
    expect(complaint).to_contain_text("大堂与柜台说法不一")
    expect(complaint).to_contain_text(f"2号窗口（zhou） · {number}")
    expect(complaint.locator(".complaint-subject")).to_have_text("涉及：银行卡")
    expect(complaint).to_contain_text("大堂说带身份证就可以")
    [recorded] = ok(server.get("/complaints", MANAGER))
    assert (recorded["subject"], recorded["counter"], recorded["ticket"]["number"]) == ("银行卡", 2, number)

    press(teller, "Numpad1")  # the service goes on: done
    expect(teller.locator("#state-badge")).to_have_text("空闲")
    expect(teller.locator("#btn-told-otherwise")).to_be_disabled()


def test_serve_this_customer_is_one_tap_at_a_free_counter_it_calls_them_and_answers(server, open_page):
    teller = console(open_page, server, "zhou", 2)  # free since the last test
    expect(teller.locator("#state-badge")).to_have_text("空闲")
    server.issue("A", KIOSK)
    named = server.issue("B", KIOSK)  # not the one call-next would take
    sent = ok(server.post("/counters/2/instruct", MANAGER, json={"kind": "serve_ticket", "ticket": named["id"]}))

    done = teller.locator("#instruction-done")
    expect(done).to_contain_text(f"叫 {named['number']}（照办）")
    teller.screenshot_as("console-instruction-serve-ticket")
    done.click()
    expect(teller.locator("#state-badge")).to_have_text("呼叫中")
    expect(teller.locator("#ticket-number")).to_have_text(named["number"])
    expect(teller.locator("#instruction-banner")).to_be_hidden()
    answered = next(i for i in instructions(server) if i["id"] == sent["id"])
    assert answered["answer"] == "done"
    counter = next(c for c in ok(server.get("/counters", MANAGER)) if c["number"] == 2)
    assert counter["current_ticket"]["number"] == named["number"]
