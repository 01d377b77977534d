"""The teller console (/counter) in Chromium against a real server on the manual clock.

Tickets come from the kiosk device over HTTP; the manager moves the branch clock over HTTP; the
teller works only through the page (mouse and numeric keypad). Every test starts from counter 1
closed and its services' queues empty, and signs in through the log-in form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, sign_in
from tests.support.callwise import CallwiseServer

TELLER, MANAGER, KIOSK = "lin", "mia", "door"
COUNTER = 1  # serves A (Cash, 3 min) then B (Transfers) in tests/branch.toml
OVERRUN_FACTOR = 2.0  # tests/branch.toml keeps the default service_overrun_factor
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(
        tmp_path_factory, "counter", staff={TELLER: "teller", MANAGER: "manager"}, devices={KIOSK: "kiosk"}
    )


# --- the branch, over HTTP -------------------------------------------------------------------------


def counter_view(server: CallwiseServer, number: int = COUNTER) -> dict[str, Any]:
    response = server.get("/counters", who=TELLER)
    assert response.status_code == 200, response.text
    return next(c for c in response.json() if c["number"] == number)


def act(server: CallwiseServer, action: str, body: dict[str, Any] | None = None, number: int = COUNTER) -> Any:
    """The teller's action done behind the console's back (same account, another token)."""
    return server.post(f"/counters/{number}/{action}", who=TELLER, json=body)


def advance_clock(server: CallwiseServer, seconds: float) -> None:
    response = server.post("/clock/advance", who=MANAGER, json={"seconds": seconds})
    assert response.status_code == 200, response.text


def finish_current(server: CallwiseServer) -> None:
    """Counter 1's current customer, if any, served and done (a no-show would wait for its grace)."""
    state = counter_view(server)["state"]
    if state == "calling":
        assert act(server, "start").status_code == 200
    if state in ("calling", "serving"):
        assert act(server, "complete", {"outcome": "done"}).status_code == 200


def clear_counter(server: CallwiseServer) -> None:
    """Counter 1 closed, nobody waiting for A or B and nobody of theirs set aside, no undo pending."""
    state = counter_view(server)["state"]
    if state == "closed":
        assert act(server, "open").status_code == 200
    elif state == "paused":
        act(server, "resume")
    finish_current(server)
    for _ in range(200):
        if act(server, "call-next").status_code != 200:
            break
        finish_current(server)
    queue = server.get("/queue", who=TELLER)
    assert queue.status_code == 200, queue.text
    for service in queue.json()["services"]:
        for ticket in service["tickets"]:
            if service["code"] in ("A", "B") and ticket.get("held"):
                assert act(server, "call", {"ticket": ticket["id"]}).status_code == 200
                finish_current(server)
    assert act(server, "close").status_code == 200, counter_view(server)
    advance_clock(server, 61)  # past any undo window the last test left open


@pytest.fixture
def fresh(server: CallwiseServer) -> CallwiseServer:
    """Counter 1 closed, nobody waiting for A or B, whatever the previous test left."""
    clear_counter(server)
    return server


# --- the page ----------------------------------------------------------------------------------------


def log_in(page: Any, server: CallwiseServer) -> None:
    page.goto(server.base_url + "/counter")
    expect(page.locator("#view-login")).to_be_visible()
    sign_in(page, TELLER)


def sign_in_at_counter(page: Any, server: CallwiseServer, number: int = COUNTER) -> None:
    """Log in through the form, then choose the counter in the picker."""
    log_in(page, server)
    choice = page.locator(f"#counter-list li[data-number='{number}']")
    expect(choice).to_contain_text("可签到")  # closed, so free to take
    choice.get_by_role("button").click()
    expect(page.locator("#view-console")).to_be_visible()
    expect(page.locator("#topbar-counter")).to_have_text(f"{number}号窗口")
    expect(page.locator("#live-dot")).to_have_class(re.compile(r"\bonline\b"))


def expect_refusals(page: Any, *statuses: int) -> None:
    """Chromium logs every 4xx answer to fetch() as a console error; these ones the test caused on
    purpose (the console shows them to the teller), so they are taken off the page's error list."""
    for status in statuses:
        logged = f"status of {status} "
        match = next((e for e in page.errors if "Failed to load resource" in e and logged in e), None)
        assert match is not None, f"no {status} answer was logged: {page.errors}"
        page.errors.remove(match)


def accessibility_violations(page: Any) -> list[Any]:
    """axe-core's violations on the page as it is now (contrast, labels, roles...)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


# --- tests -------------------------------------------------------------------------------------------


def test_call_next_start_by_keypad_timer_turns_red_past_the_overrun_line_then_complete(fresh, open_page):
    server = fresh
    first = server.issue("A", KIOSK)
    server.issue("A", KIOSK)
    page = open_page()
    sign_in_at_counter(page, server)

    expect(page.locator("#state-badge")).to_have_text("空闲")
    expect(page.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("2 人")
    expect(page.locator("#btn-call")).to_be_enabled()
    for disabled in ("#btn-start", "#btn-recall", "#btn-done", "#btn-transfer", "#btn-resume"):
        expect(page.locator(disabled)).to_be_disabled()
    page.screenshot_as("console-idle")

    page.click("#btn-call")
    expect(page.locator("#ticket-number")).to_have_text(first["number"])
    expect(page.locator("#state-badge")).to_have_text("呼叫中")
    expect(page.locator("#btn-start")).to_be_enabled()
    expect(page.locator("#btn-call")).to_be_disabled()
    expect(page.locator("#ticket-service")).to_contain_text("现金存取")
    expect(page.locator("#documents")).to_have_text("银行卡")  # the kiosk's list for service A
    expect(page.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("1 人")

    page.keyboard.press("Numpad0")  # the keypad's 0: the customer has arrived
    expect(page.locator("#state-badge")).to_have_text("办理中")
    expect(page.locator("#btn-done")).to_be_enabled()
    expect(page.locator("#btn-start")).to_be_disabled()
    assert counter_view(server)["state"] == "serving"

    timer = page.locator("#timer")
    shown = timer.text_content()
    expect(timer).not_to_have_text(shown, timeout=5000)  # it runs on its own
    expect(timer).not_to_have_class(re.compile("timer--(near|over)"))
    line_s = OVERRUN_FACTOR * 3 * 60  # service A: 3 expected minutes
    expect(page.locator("#timer-line")).to_contain_text("超时线 6 分钟")

    # The manager's clock jumps to 78 % of the line; the console follows the branch's (manual) clock.
    advance_clock(server, 0.78 * line_s)
    expect(timer).to_have_class(re.compile(r"\btimer--near\b"), timeout=10_000)
    expect(page.locator("#timer-line")).to_contain_text("接近超时")

    advance_clock(server, 0.22 * line_s + 40)  # and past the overrun line
    expect(timer).to_have_class(re.compile(r"\btimer--over\b"))
    expect(page.locator("#timer-line")).to_contain_text("已超时")
    expect(page.locator("#alerts li[data-rule='service_overrun']")).to_contain_text(first["number"])
    page.screenshot_as("console-serving")
    assert accessibility_violations(page) == []

    page.click("#btn-redo")  # redo needs confirming: a second click
    expect(page.locator("#confirm-hint")).to_contain_text("再按一次 2")
    assert counter_view(server)["state"] == "serving"
    page.click("#btn-redo")
    expect(page.locator("#state-badge")).to_have_text("空闲")
    expect(page.locator("#ticket-number")).to_have_text("无当前客户")
    expect(page.locator("#alerts li")).to_have_count(0)  # the overrun ended with the service
    assert server.ticket(first["token"])["outcome"] == "redo"

    # The colours' thresholds, checked in the page's own module: amber from 75 % of the line.
    levels = page.evaluate(
        """async (line) => {
            const m = await import('/ui/counter/model.js');
            return [m.timerLevel(0.74 * line, line), m.timerLevel(0.75 * line, line), m.timerLevel(line, line)];
        }""",
        line_s,
    )
    assert levels == ["normal", "near", "over"]


def test_a_key_pressed_before_the_answer_to_the_last_one_is_kept_and_runs_once_that_answer_is_in(fresh, open_page):
    """The live event about the teller's own call often reaches the console before the HTTP answer
    does. Made certain here: the call reaches the server, but its answer is held back from the page
    until the teller has pressed the next key."""
    server = fresh
    ticket = server.issue("A", KIOSK)
    page = open_page()
    sign_in_at_counter(page, server)
    held: list[Any] = []  # the call's route: the page waits for its answer until the test gives it
    page.route("**/api/v1/counters/1/call-next", lambda route: held.append(route))
    expect(page.locator("#btn-call")).to_be_enabled()  # the console knows someone waits (its snapshot is in)

    page.keyboard.press("NumpadAdd")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    [route] = held
    answer = route.fetch()  # the call reaches the server, which answers and sends its live event
    assert answer.status == 200
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])  # from the live event
    expect(page.locator("#state-badge")).to_have_text("呼叫中")
    # The event does not enable the buttons while the call is in flight: no click can be taken then.
    for button in ("#btn-start", "#btn-recall", "#btn-no-show", "#btn-call"):
        expect(page.locator(button)).to_be_disabled()
    page.keyboard.press("Numpad0")  # the customer is already at the desk: start
    assert counter_view(server)["state"] == "calling"  # nothing sent before the answer is in

    route.fulfill(response=answer)
    expect(page.locator("#state-badge")).to_have_text("办理中")
    expect(page.locator("#btn-done")).to_be_enabled()
    assert counter_view(server)["state"] == "serving"


def test_pause_with_a_reason_by_keypad_then_resume(fresh, open_page):
    server = fresh
    page = open_page()
    sign_in_at_counter(page, server)

    page.keyboard.press("Numpad7")
    dialog = page.locator("#chooser")
    expect(dialog).to_be_visible()
    option = dialog.locator("button[value='cash_replenish']")
    expect(option).to_have_text(re.compile("清机加钞"))  # the label from /api/v1/branch
    assert accessibility_violations(page) == []
    page.keyboard.press(f"Numpad{option.get_attribute('data-key')}")
    expect(dialog).to_be_hidden()
    expect(page.locator("#state-badge")).to_have_text("暂停")
    expect(page.locator("#state-detail")).to_contain_text("清机加钞")
    view = counter_view(server)
    assert (view["state"], view["pause_reason"]) == ("paused", "cash_replenish")

    expect(page.locator("#btn-call")).to_be_disabled()
    page.keyboard.press("NumpadAdd")  # call-next does not apply while paused: nothing is sent
    expect(page.locator("#btn-resume")).to_be_enabled()
    assert counter_view(server)["state"] == "paused"

    page.click("#btn-resume")
    expect(page.locator("#state-badge")).to_have_text("空闲")
    expect(page.locator("#btn-call")).to_be_enabled()
    assert counter_view(server)["state"] == "idle"


def test_transfer_sends_the_customer_to_another_service(fresh, open_page):
    server = fresh
    ticket = server.issue("A", KIOSK)
    page = open_page()
    sign_in_at_counter(page, server)

    page.keyboard.press("NumpadAdd")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    page.click("#btn-transfer")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_contain_text(f"把 {ticket['number']} 转到哪项业务")
    expect(dialog.locator("button[data-service='A']")).to_be_disabled()  # not to its own service
    dialog.locator("button[data-service='C']").click()
    expect(page.locator("#state-badge")).to_have_text("空闲")
    moved = server.ticket(ticket["token"])
    assert (moved["service"], moved["status"], moved["number"]) == ("C", "waiting", ticket["number"])


def test_a_change_behind_the_consoles_back_gets_a_409_that_is_shown_and_the_console_recovers(fresh, open_page):
    server = fresh
    page = open_page()
    blocking = {"counter_changed": False}

    def route(ws: Any) -> None:
        upstream = ws.connect_to_server()

        def from_server(message: Any) -> None:
            # Socket.IO event frames look like 42["counter_changed",{...}]: drop those while blocking.
            if blocking["counter_changed"] and isinstance(message, str) and '["counter_changed"' in message[:24]:
                return
            ws.send(message)

        upstream.on_message(from_server)
        ws.on_message(upstream.send)

    page.context.route_web_socket(re.compile(r"/socket\.io/"), route)
    sign_in_at_counter(page, server)
    ticket = server.issue("B", KIOSK)
    expect(page.locator("#waiting li[data-service='B'] .waiting-count")).to_have_text("1 人")

    blocking["counter_changed"] = True
    assert act(server, "call-next").status_code == 200  # from another window: the console does not hear of it
    expect(page.locator("#btn-call")).to_be_enabled()
    page.click("#btn-call")

    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("“叫号”未完成")
    expect(error).to_contain_text("窗口状态已在别处改变")
    expect(page.locator("#error-server")).to_be_hidden()  # a known code: the console's words, not the server's English
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])  # reloaded from the server
    expect(page.locator("#btn-call")).to_be_disabled()
    expect(page.locator("#btn-start")).to_be_enabled()
    page.screenshot_as("console-error")

    blocking["counter_changed"] = False
    page.click("#btn-start")
    expect(page.locator("#state-badge")).to_have_text("办理中")
    expect(error).to_be_hidden()  # a successful action clears the message

    page.click("#lang-toggle")
    page.click("#btn-done")
    expect(page.locator("#state-badge")).to_have_text("Free")
    page.click("#btn-call")  # nobody waits now: a calm word, no error
    expect(page.locator("#console-notice")).to_have_text("Nobody is waiting for your services.")
    expect(error).to_be_hidden()
    expect_refusals(page, 409, 404)


def test_idle_counter_alert_appears_live_and_clears_after_call_next(fresh, open_page):
    server = fresh
    page = open_page()
    sign_in_at_counter(page, server)
    ticket = server.issue("A", KIOSK)
    expect(page.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("1 人")
    expect(page.locator("#alerts-panel")).to_be_hidden()

    advance_clock(server, 60)
    alert = page.locator("#alerts li[data-rule='idle_counter']")
    expect(alert).to_contain_text("1号窗口已空闲1分钟，有1位客户在等候")
    expect(page.locator("#alerts-panel")).to_be_visible()
    page.screenshot_as("console-alert")

    page.click("#lang-toggle")
    expect(alert).to_contain_text("Counter 1 has been idle for 1 min with 1 customer waiting")
    expect(page.locator("#btn-call .action-label")).to_have_text("Call next")
    page.click("#lang-toggle")

    page.click("#ticket-number")  # away from the language button, whose own key Enter is
    page.keyboard.press("NumpadEnter")  # focus is on no button: Enter calls next
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(page.locator("#alerts li")).to_have_count(0)
    expect(page.locator("#alerts-panel")).to_be_hidden()


def test_reload_resumes_the_signed_in_counter_and_log_out_closes_it(fresh, open_page):
    server = fresh
    page = open_page()
    sign_in_at_counter(page, server)

    page.reload()
    expect(page.locator("#view-console")).to_be_visible()
    expect(page.locator("#topbar-counter")).to_have_text("1号窗口")
    expect(page.locator("#view-login")).to_be_hidden()
    expect(page.locator("#btn-call")).to_be_enabled()

    # Every control is reachable from the keyboard, with a visible focus ring.
    page.locator("#btn-call").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused[0] == "btn-complaint" and focused[1] != "none", focused  # the next enabled control

    page.click("#logout")
    expect(page.locator("#view-login")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('callwise.counter.token')") is None
    assert accessibility_violations(page) == []
    assert counter_view(server)["state"] == "closed"


def test_the_picker_shows_which_counters_are_free_and_refuses_a_taken_one(fresh, open_page):
    server = fresh
    assert server.post("/counters/2/open", who=MANAGER).status_code == 200  # mia sits at counter 2
    try:
        page = open_page()
        log_in(page, server)
        free = page.locator("#counter-list li[data-number='1']")
        taken = page.locator("#counter-list li[data-number='2']")
        expect(free).to_contain_text("未开放 · 可签到")
        expect(free).to_contain_text("A · 现金存取")
        expect(taken).to_contain_text("使用中")
        expect(taken.get_by_role("button")).to_be_disabled()
        assert accessibility_violations(page) == []
        assert server.post("/counters/2/close", who=MANAGER).status_code == 200
        expect(taken).to_contain_text("可签到")  # live, from counter_changed
        expect(taken.get_by_role("button")).to_be_enabled()
    finally:
        server.post("/counters/2/close", who=MANAGER)
