"""The teller console's tools of a real branch (issue 15), in Chromium against a real server on the
manual clock: the waiting list and calling a chosen customer, set aside and call back, a no-show who
comes back, transfer under fixed keys, undo, the outcomes that need confirming, the no-show's grace,
and an empty queue told calmly.

Tickets come from the kiosk device over HTTP; the manager moves the branch clock over HTTP; the
teller works only through the page. Every test starts from counter 1 closed with nobody of A or B
waiting or set aside (test_counter.clear_counter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, sign_in
from tests.browser.test_counter import (
    COUNTER,
    KIOSK,
    MANAGER,
    TELLER,
    accessibility_violations,
    act,
    advance_clock,
    clear_counter,
    counter_view,
    expect_refusals,
    sign_in_at_counter,
)
from tests.support.callwise import CallwiseServer, write_config

GRACE_S = 60  # [queue] no_show_grace_s, the default (tests/branch.toml sets none)
UNDO_S = 60  # [queue] undo_window_s, the default
TABLET, DESKTOP = (1024, 768), (1440, 900)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(
        tmp_path_factory, "counter-tools", staff={TELLER: "teller", MANAGER: "manager"}, devices={KIOSK: "kiosk"}
    )


@pytest.fixture
def fresh(server: CallwiseServer) -> CallwiseServer:
    clear_counter(server)
    return server


# --- the branch, over HTTP -------------------------------------------------------------------------


def issue(server: CallwiseServer, service: str, priority: bool = False) -> dict[str, Any]:
    """A ticket from the kiosk; a priority one as the kiosk issues it behind its confirmation."""
    body: dict[str, Any] = {"service": service, "lang": "zh"}
    if priority:
        body["priority"] = True
    response = server.post("/tickets", who=KIOSK, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def queued(server: CallwiseServer, ticket: dict[str, Any]) -> dict[str, Any] | None:
    """The ticket as GET /queue lists it (waiting or held), or None."""
    response = server.get("/queue", who=TELLER)
    assert response.status_code == 200, response.text
    for service in response.json()["services"]:
        for item in service["tickets"]:
            if item["id"] == ticket["id"]:
                return dict(item, service=service["code"])
    return None


def queue_numbers(server: CallwiseServer, service: str) -> list[str]:
    response = server.get("/queue", who=TELLER)
    assert response.status_code == 200, response.text
    tickets = next(s for s in response.json()["services"] if s["code"] == service)["tickets"]
    return [t["number"] for t in tickets if not t.get("held")]


def status_of(server: CallwiseServer, ticket: dict[str, Any]) -> str:
    return str(server.ticket(ticket["token"])["status"])


# --- tests -------------------------------------------------------------------------------------------


def test_the_waiting_list_shows_numbers_waits_and_priority_and_calls_the_chosen_customer(fresh, open_page):
    server = fresh
    first = issue(server, "A")
    advance_clock(server, 240)
    urgent = issue(server, "A", priority=True)
    other = issue(server, "B")
    advance_clock(server, 60)
    page = open_page(viewport=TABLET)
    sign_in_at_counter(page, server)

    rows_a = page.locator("#waiting li[data-service='A'] .queue-row")
    expect(rows_a).to_have_count(2)
    # In call order: the priority customer first, marked in words (not by colour alone).
    expect(rows_a.nth(0)).to_have_attribute("data-number", urgent["number"])
    expect(rows_a.nth(0).locator(".mark-priority")).to_have_text("优先")
    expect(rows_a.nth(1)).to_have_attribute("data-number", first["number"])
    expect(rows_a.nth(1).locator(".mark-priority")).to_have_count(0)
    expect(rows_a.nth(1).locator(".q-waited")).to_have_text("已等 5 分钟")
    expect(rows_a.nth(0).locator(".q-waited")).to_have_text("已等 1 分钟")
    expect(page.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("2 人")
    row_b = page.locator(f"#waiting .queue-row[data-number='{other['number']}']")
    expect(row_b).to_be_visible()
    assert accessibility_violations(page) == []
    page.screenshot_as("console-tools-waiting-list-tablet-zh")

    row_b.get_by_role("button", name=f"叫号 {other['number']}").click()  # not the first in line
    expect(page.locator("#ticket-number")).to_have_text(other["number"])
    expect(page.locator("#state-badge")).to_have_text("呼叫中")
    assert counter_view(server)["current_ticket"]["id"] == other["id"]
    expect(row_b).to_have_count(0)
    # The counter is busy now: no other row can be called until it is free.
    for button in rows_a.get_by_role("button").all():
        expect(button).to_be_disabled()
    assert (status_of(server, first), status_of(server, urgent)) == ("waiting", "waiting")

    page.click("#lang-toggle")
    expect(rows_a.nth(0).locator(".mark-priority")).to_have_text("Priority")
    expect(rows_a.nth(1).locator(".q-waited")).to_have_text("waited 5 min")


def test_set_aside_with_a_note_then_call_back_shows_the_note_to_the_teller(fresh, open_page):
    server = fresh
    ticket = issue(server, "A")
    later = issue(server, "A")
    page = open_page()
    sign_in_at_counter(page, server)

    page.keyboard.press("NumpadAdd")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    page.keyboard.press("h")
    dialog = page.locator("#hold-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"暂挂 {ticket['number']}")
    page.locator("#hold-note").type("去取身份证原件")  # typed: the digits and letters stay in the note
    page.screenshot_as("console-tools-hold-dialog")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#state-badge")).to_have_text("空闲")
    held_row = page.locator(f"#held-list .queue-row[data-number='{ticket['number']}']")
    expect(held_row.locator(".mark-held")).to_have_text("暂挂")
    expect(held_row.locator(".q-note")).to_have_text("去取身份证原件")
    expect(page.locator("#console-notice")).to_contain_text(f"{ticket['number']} 已暂挂")
    assert status_of(server, ticket) == "held"
    assert (queued(server, ticket) or {}).get("note") == "去取身份证原件"

    # Set aside is out of the queue: call-next takes the one behind.
    page.keyboard.press("NumpadAdd")
    expect(page.locator("#ticket-number")).to_have_text(later["number"])
    expect(held_row.get_by_role("button")).to_be_disabled()  # the counter is busy
    page.keyboard.press("Numpad0")
    page.keyboard.press("Numpad1")
    expect(page.locator("#state-badge")).to_have_text("空闲")

    held_row.get_by_role("button", name=f"叫回 {ticket['number']}").click()
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(page.locator("#held-box")).to_be_hidden()
    assert status_of(server, ticket) == "called"
    # The note is on the ticket card, and in the customer's history with the hold.
    expect(page.locator("#ticket-note")).to_be_visible()
    expect(page.locator("#ticket-note-text")).to_have_text("去取身份证原件")
    hold = page.locator("#context-history li[data-action='hold']")
    expect(hold).to_contain_text("暂挂")
    expect(hold).to_contain_text("去取身份证原件")
    expect(page.locator("#context-facts")).to_contain_text("语言：中文")
    page.screenshot_as("console-tools-called-back")


def test_undo_of_a_complete_within_the_window_then_the_bar_goes_when_it_has_passed(fresh, open_page):
    server = fresh
    ticket = issue(server, "A")
    page = open_page()
    sign_in_at_counter(page, server)
    page.keyboard.press("NumpadAdd")
    page.keyboard.press("Numpad0")
    expect(page.locator("#state-badge")).to_have_text("办理中")

    page.keyboard.press("Numpad1")  # done: at once, and undoable
    expect(page.locator("#state-badge")).to_have_text("空闲")
    bar = page.locator("#undo-bar")
    expect(bar).to_be_visible()
    expect(page.locator("#undo-what")).to_have_text(f"{ticket['number']} 已办结")
    expect(page.locator("#undo-left")).to_have_text(re.compile(r"还可撤销 (5\d|60) 秒"))
    assert status_of(server, ticket) == "done"
    advance_clock(server, 20)
    expect(page.locator("#undo-left")).to_have_text(re.compile(r"还可撤销 (3\d|40) 秒"))  # it counts down
    page.screenshot_as("console-tools-undo-bar")

    page.keyboard.press("Backspace")
    expect(page.locator("#state-badge")).to_have_text("办理中")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(bar).to_be_hidden()
    assert counter_view(server)["state"] == "serving"
    assert status_of(server, ticket) == "serving"

    page.click("#btn-done")
    expect(bar).to_be_visible()
    advance_clock(server, UNDO_S + 1)
    expect(bar).to_be_hidden()
    page.keyboard.press("Backspace")  # too late: nothing is sent
    expect(page.locator("#state-badge")).to_have_text("空闲")
    assert status_of(server, ticket) == "done"


def test_redo_and_error_wait_for_a_second_press_and_any_other_key_takes_the_first_back(fresh, open_page):
    server = fresh
    first = issue(server, "A")
    second = issue(server, "A")
    page = open_page()
    sign_in_at_counter(page, server)
    page.keyboard.press("NumpadAdd")
    page.keyboard.press("Numpad0")
    expect(page.locator("#state-badge")).to_have_text("办理中")

    hint = page.locator("#confirm-hint")
    page.keyboard.press("Numpad2")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("再按一次 2")
    expect(page.locator("#btn-redo")).to_have_class(re.compile(r"\barmed\b"))
    expect(page.locator("#btn-redo")).to_contain_text("再按 2 确认")
    page.screenshot_as("console-tools-confirm-redo")
    page.keyboard.press("Escape")
    expect(hint).to_be_hidden()
    expect(page.locator("#btn-redo")).not_to_have_class(re.compile(r"\barmed\b"))
    assert counter_view(server)["state"] == "serving"  # nothing was sent

    page.keyboard.press("Numpad2")
    page.keyboard.press("Numpad2")
    expect(page.locator("#state-badge")).to_have_text("空闲")
    assert server.ticket(first["token"])["outcome"] == "redo"

    page.keyboard.press("NumpadAdd")
    page.keyboard.press("Numpad0")
    expect(page.locator("#state-badge")).to_have_text("办理中")
    page.click("#btn-error")
    expect(hint).to_contain_text("再按一次 3")
    assert counter_view(server)["state"] == "serving"
    page.click("#btn-error")
    expect(page.locator("#state-badge")).to_have_text("空闲")
    assert server.ticket(second["token"])["outcome"] == "error"


def test_no_show_waits_for_its_grace_then_the_customer_who_came_back_goes_to_the_front(fresh, open_page):
    server = fresh
    ticket = issue(server, "A")
    behind = issue(server, "A")
    page = open_page()
    sign_in_at_counter(page, server)
    page.keyboard.press("NumpadAdd")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])

    no_show = page.locator("#btn-no-show")
    expect(no_show).to_be_disabled()
    expect(page.locator("#no-show-wait")).to_have_text(re.compile(r"(5\d|60) 秒后可记"))
    page.keyboard.press("NumpadSubtract")  # too early: nothing is sent
    assert counter_view(server)["state"] == "calling"
    advance_clock(server, GRACE_S / 2)
    expect(page.locator("#no-show-wait")).to_have_text(re.compile(r"(2\d|30) 秒后可记"))
    expect(no_show).to_be_disabled()
    advance_clock(server, GRACE_S / 2 + 1)
    expect(no_show).to_be_enabled()
    expect(page.locator("#no-show-wait")).to_be_hidden()

    page.keyboard.press("NumpadSubtract")
    expect(page.locator("#state-badge")).to_have_text("空闲")
    assert status_of(server, ticket) == "no_show"
    expect(page.locator("#undo-what")).to_have_text(f"{ticket['number']} 已记为未到")
    came = page.locator(f"#no-show-list .queue-row[data-number='{ticket['number']}']")
    expect(came.get_by_role("button")).to_contain_text("回来了")
    assert queue_numbers(server, "A") == [behind["number"]]
    page.screenshot_as("console-tools-no-show-came-back")

    came.get_by_role("button").click()
    expect(page.locator("#console-notice")).to_contain_text(f"{ticket['number']} 已排回")
    expect(came).to_have_count(0)
    assert status_of(server, ticket) == "waiting"
    assert queue_numbers(server, "A") == [ticket["number"], behind["number"]]  # at the front
    expect(page.locator("#waiting li[data-service='A'] .queue-row").first).to_have_attribute(
        "data-number", ticket["number"]
    )


def test_a_no_show_the_server_finds_too_early_is_told_in_the_consoles_own_words(fresh, open_page):
    """A console whose views lack the grace time (as from an older server) lets the key through: the
    server's 409 too_early reads in the console's Chinese, not in the server's English."""
    server = fresh
    issue(server, "A")
    page = open_page()

    def forget_grace(text: str) -> str:
        return re.sub(r'"no_show_allowed_at":\s*"[^"]*"', '"no_show_allowed_at":null', text)

    def socket(ws: Any) -> None:
        upstream = ws.connect_to_server()
        upstream.on_message(lambda message: ws.send(forget_grace(message) if isinstance(message, str) else message))
        ws.on_message(upstream.send)

    def counters(route: Any) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, body=forget_grace(answer.text()))

    page.context.route_web_socket(re.compile(r"/socket\.io/"), socket)
    page.route(re.compile(r"/api/v1/counters(/|$)"), counters)
    sign_in_at_counter(page, server)
    page.keyboard.press("NumpadAdd")
    expect(page.locator("#state-badge")).to_have_text("呼叫中")
    expect(page.locator("#btn-no-show")).to_be_enabled()

    page.keyboard.press("NumpadSubtract")
    error = page.locator("#error")
    expect(error).to_contain_text("“未到”未完成")
    expect(error).to_contain_text("还不能记为未到")
    expect(page.locator("#error-server")).to_be_hidden()
    assert counter_view(server)["state"] == "calling"
    expect_refusals(page, 409)


def test_transfer_keys_are_fixed_per_service_and_a_counter_can_be_chosen_with_a_note(fresh, open_page):
    server = fresh
    cash = issue(server, "A")
    transfer = issue(server, "B")
    assert server.post("/counters/3/open", who=MANAGER).status_code == 200  # mia sits at counter 3
    try:
        page = open_page(viewport=TABLET)
        sign_in_at_counter(page, server)
        page.keyboard.press("NumpadAdd")
        expect(page.locator("#ticket-number")).to_have_text(cash["number"])

        def keys() -> list[tuple[str, str, bool]]:
            options = page.locator("#transfer-services button[data-service]")
            expect(options).to_have_count(4)
            return [(o.get_attribute("data-service"), o.get_attribute("data-key"), o.is_disabled())
                    for o in options.all()]

        page.keyboard.press("Numpad4")
        dialog = page.locator("#transfer-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(f"把 {cash['number']} 转到哪项业务")
        # Every service under its place in the branch's list; the ticket's own one disabled, same key.
        assert keys() == [("A", "1", True), ("B", "2", False), ("C", "3", False), ("D", "4", False)]
        expect(page.locator("#transfer-services button[data-service='A']")).to_contain_text("当前业务")
        page.keyboard.press("Numpad1")  # its own service: nothing happens
        expect(dialog).to_be_visible()
        page.keyboard.press("Numpad3")
        expect(dialog).to_be_hidden()
        expect(page.locator("#state-badge")).to_have_text("空闲")
        moved = server.ticket(cash["token"])
        assert (moved["service"], moved["status"], moved["number"]) == ("C", "waiting", cash["number"])

        page.keyboard.press("NumpadAdd")
        expect(page.locator("#ticket-number")).to_have_text(transfer["number"])
        page.keyboard.press("Numpad4")
        expect(dialog).to_contain_text(f"把 {transfer['number']} 转到哪项业务")
        # A customer of another service: the same keys, only which one is disabled differs.
        assert keys() == [("A", "1", False), ("B", "2", True), ("C", "3", False), ("D", "4", False)]
        page.screenshot_as("console-tools-transfer-tablet")
        page.locator("#transfer-note").type("请核对收款人姓名")
        page.keyboard.press("Enter")  # the note is written: on to the choices
        page.keyboard.press("Numpad0")  # to a counter
        counters = page.locator("#transfer-counters button[data-counter]")
        expect(counters).to_have_count(1)  # only counter 3 is open besides ours
        expect(counters.first).to_have_attribute("data-key", "3")
        expect(counters.first).to_contain_text("3号窗口")
        page.screenshot_as("console-tools-transfer-to-counter")
        page.keyboard.press("Numpad3")
        expect(dialog).to_be_hidden()
        expect(page.locator("#console-notice")).to_contain_text("3号窗口")
        sent = queued(server, transfer)
        assert sent is not None and sent["directed_counter"] == 3 and sent["note"] == "请核对收款人姓名", sent
    finally:
        for _ in range(20):  # counter 3 serves what it was sent, then closes
            if server.post("/counters/3/call-next", who=MANAGER).status_code != 200:
                break
            server.post("/counters/3/start", who=MANAGER)
            server.post("/counters/3/complete", who=MANAGER, json={"outcome": "done"})
        server.post("/counters/3/close", who=MANAGER)


def test_an_empty_queue_is_a_calm_notice_in_the_consoles_language(fresh, open_page):
    server = fresh
    page = open_page(viewport=TABLET)
    sign_in_at_counter(page, server)
    expect(page.locator("#waiting .waiting-total")).to_have_text("合计 0 人等候")

    page.keyboard.press("NumpadAdd")
    calm = page.locator("#console-notice")
    expect(calm).to_have_text("目前没有客户在等候本窗口的业务。")
    expect(calm).to_have_attribute("data-kind", "calm")
    expect(calm).to_have_attribute("role", "status")
    expect(page.locator("#error")).to_be_hidden()  # not a red error
    assert "nobody" not in (page.locator("main").text_content() or "").lower()  # no English server text
    page.screenshot_as("console-tools-empty-queue-zh")
    expect_refusals(page, 404)


# --- screenshots: a crowded list with long service names, at tablet and desktop size, both languages ---

LONG_NAMES = {
    '{ zh = "现金存取", en = "Cash" }':
        '{ zh = "个人现金存取款及外币兑换（含大额预约取现）", '
        'en = "Personal cash deposits, withdrawals and foreign currency exchange (large sums by appointment)" }',
    '{ zh = "转账汇款", en = "Transfers" }':
        '{ zh = "境内外转账汇款、跨行汇款与代发工资查询", '
        'en = "Domestic and international transfers, interbank remittances and payroll enquiries" }',
}


class CrowdedBranch(CallwiseServer):
    """The tests' branch with long names for the services of counter 1."""

    def write_config(self) -> Path:
        path = write_config(self.directory, self.port)
        text = path.read_text(encoding="utf-8")
        for short, long in LONG_NAMES.items():
            assert short in text, short
            text = text.replace(short, long)
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    """A busy morning at counter 1: sixteen waiting (some priority, some long), one set aside with a
    note, one no-show, and a customer sent over from accounts with a note and a lobby complaint."""
    with CrowdedBranch.running(tmp_path_factory.mktemp("crowded"), staff={TELLER: "teller", MANAGER: "manager"},
                               devices={KIOSK: "kiosk"}) as server:
        sent = issue(server, "C")
        for index in range(16):
            issue(server, "AB"[index % 2], priority=index in (5, 12))
            advance_clock(server, 90)
        assert server.post("/counters/4/open", who=MANAGER).status_code == 200
        assert server.post("/counters/4/call-next", who=MANAGER).status_code == 200
        assert server.post("/counters/4/transfer", who=MANAGER,
                           json={"service": "B", "note": "客户要办跨行汇款，身份证已核对"}).status_code == 200
        assert server.post("/counters/4/close", who=MANAGER).status_code == 200
        complaint = {"kind": "inconsistent_instructions", "ticket": sent["id"], "counter": 4,
                     "text": "大堂说汇款不需要身份证复印件"}
        assert server.post("/complaints", who=TELLER, json=complaint).status_code == 201
        assert act(server, "open").status_code == 200
        assert act(server, "call-next").status_code == 200
        assert act(server, "hold", {"note": "回车上取户口本"}).status_code == 200
        assert act(server, "call-next").status_code == 200
        advance_clock(server, GRACE_S + 1)
        gone = act(server, "no-show").json()
        server.no_show = gone  # type: ignore[attr-defined]
        assert act(server, "call", {"ticket": sent["id"]}).status_code == 200
        assert act(server, "start").status_code == 200
        yield server


@pytest.mark.parametrize("size", ["tablet", "desktop"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_screenshots_of_a_crowded_console_with_long_service_names(crowded, open_page, size, lang):
    server = crowded
    page = open_page(viewport=TABLET if size == "tablet" else DESKTOP)
    gone = server.no_show
    # This console recorded the no-show a moment ago (its own list, kept for the tab).
    page.add_init_script(
        "sessionStorage.setItem('callwise.counter.no_shows', JSON.stringify(["
        f"{{id: {gone['id']}, number: '{gone['number']}', service: '{gone['service']}', counter: {COUNTER},"
        f" at: '{gone.get('finished_at') or gone['called_at']}'}}]));"
        f"localStorage.setItem('callwise.counter.lang', '{lang}');"
    )
    page.goto(server.base_url + "/counter")
    sign_in(page, TELLER)  # already at counter 1: the console resumes it
    expect(page.locator("#view-console")).to_be_visible()
    expect(page.locator("#waiting .queue-row")).to_have_count(14)
    expect(page.locator("#held-list .queue-row")).to_have_count(1)
    expect(page.locator("#no-show-list .queue-row")).to_have_count(1)
    expect(page.locator("#ticket-note-text")).to_have_text("客户要办跨行汇款，身份证已核对")
    expect(page.locator("#context-history li[data-action='transfer']")).to_contain_text("C → B")
    expect(page.locator("#context-lobby li[data-kind='complaint']")).to_contain_text("大堂说汇款不需要身份证复印件")
    expect(page.locator(".queue-row .mark-priority").first).to_be_visible()
    # Nothing spills out of its row, however long the names: every call button lies inside the card.
    spilling = page.evaluate(
        """() => {
            const card = document.querySelector('.waiting-card').getBoundingClientRect();
            const rows = [...document.querySelectorAll('.queue-row, .waiting-head')]
                .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent);
            const buttons = [...document.querySelectorAll('.waiting-card button')]
                .filter((b) => b.getBoundingClientRect().right > card.right + 0.5).map((b) => b.textContent);
            // Within a row, the number, each mark, the wait and the button never overlap.
            const overlapping = [...document.querySelectorAll('.queue-row')].filter((row) => {
                const boxes = [...row.querySelectorAll('.q-number, .mark, .q-waited, button')]
                    .map((e) => e.getBoundingClientRect());
                return boxes.some((a, i) => boxes.slice(i + 1).some((b) =>
                    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
                    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1));
            }).map((row) => row.textContent);
            return [...rows, ...buttons, ...overlapping];
        }"""
    )
    assert spilling == []
    page.screenshot_as(f"console-tools-crowded-{size}-{lang}")
    page.screenshot_as(f"console-tools-crowded-{size}-{lang}-full", full_page=True)
    assert accessibility_violations(page) == []
