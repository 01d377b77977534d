"""The ticket kiosk, as a customer uses it: pick a service, read the documents, confirm, take the
ticket — against a real server, with the teller's API as the witness of how many tickets exist.

Time on the page is Playwright's clock (``page.clock``): the kiosk's own timeouts (10 s ticket,
30 s documents) are jumped over instead of waited for.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from tests.browser.conftest import branch_server
from tests.support.callwise import CallwiseServer

TIMEOUT_MS = 5000
COUNT_PRINTS = "window.__prints = 0; window.print = () => { window.__prints += 1; };"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "kiosk", staff={"kelly": "teller"}, devices={"door": "kiosk"})


@pytest.fixture
def kiosk(server, open_page):
    """A kiosk browser paired with the "door" device, on a controllable clock, counting print()s."""

    def make(viewport: tuple[int, int] = (1280, 800)) -> Any:
        page = open_page(viewport=viewport)
        page.clock.install()
        page.add_init_script(COUNT_PRINTS)
        page.goto(f"{server.base_url}/kiosk?device={server.tokens['door']}")
        page.wait_for_selector("#screen-services:not([hidden]) .service", timeout=TIMEOUT_MS)
        return page

    return make


def waiting(server: CallwiseServer, code: str) -> list[dict[str, Any]]:
    """The waiting tickets of a service, as the teller sees them."""
    response = server.get("/queue", who="kelly")
    assert response.status_code == 200, response.text
    return next(s["tickets"] for s in response.json()["services"] if s["code"] == code)


def service(server: CallwiseServer, code: str) -> dict[str, Any]:
    return next(s for s in server.get("/services").json() if s["code"] == code)


def forget_expected_errors(page: Any, *patterns: str) -> None:
    """Chromium logs every failed request as a console error; drop the ones a test provoked on purpose."""
    page.errors[:] = [e for e in page.errors if not any(re.search(p, e) for p in patterns)]


def test_unpaired_kiosk_says_so_in_both_languages(server, open_page):
    page = open_page(f"{server.base_url}/kiosk")
    page.wait_for_selector("#screen-unpaired:not([hidden])", timeout=TIMEOUT_MS)
    text = page.inner_text("#screen-unpaired")
    assert "本取号机尚未配对" in text and "This kiosk is not paired" in text
    assert page.locator(".service").count() == 0


def test_kiosk_with_an_unknown_token_says_it_is_not_paired(server, open_page):
    page = open_page(f"{server.base_url}/kiosk?device=not-a-real-device-token-0123456789")
    page.wait_for_selector("#screen-unpaired:not([hidden])", timeout=TIMEOUT_MS)
    assert page.url == f"{server.base_url}/kiosk"
    forget_expected_errors(page, r"status of 401")


def test_pairing_is_remembered_and_leaves_the_address_bar(server, kiosk):
    page = kiosk()
    assert page.url == f"{server.base_url}/kiosk"
    assert page.evaluate("localStorage.getItem('callwise.kiosk.device')") == server.tokens["door"]
    page.goto(f"{server.base_url}/kiosk")
    page.wait_for_selector("#screen-services:not([hidden]) .service", timeout=TIMEOUT_MS)


def test_customer_takes_a_ticket_with_documents_and_a_qr_code(server, kiosk):
    page = kiosk()
    before = len(waiting(server, "D"))

    buttons = page.locator(".service")
    assert buttons.count() == 4
    for index in range(buttons.count()):
        assert buttons.nth(index).bounding_box()["height"] >= 64
    assert "复杂业务" in page.inner_text(".service[data-code=D]")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.screenshot_as("kiosk-zh")

    page.click(".service[data-code=D]")
    page.wait_for_selector("#screen-documents:not([hidden])")
    expected = [d["zh"] for d in service(server, "D")["documents"]]
    assert page.locator("#doc-list li").all_inner_texts() == expected
    assert page.inner_text("#doc-service-name") == "贷款"
    page.screenshot_as("kiosk-documents")

    page.click("#confirm")
    page.wait_for_selector("#screen-ticket:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.__prints === 1", timeout=TIMEOUT_MS)

    # Exactly one new ticket, and it is the one on screen.
    tickets = waiting(server, "D")
    assert len(tickets) == before + 1
    number = tickets[-1]["number"]
    assert page.inner_text("#paper-number") == number
    assert float(page.eval_on_selector("#paper-number", "e => parseFloat(getComputedStyle(e).fontSize)")) >= 60
    assert page.locator("#paper-docs li").all_inner_texts() == expected
    assert page.inner_text("#paper-time").endswith("09:00")  # the branch's manual clock, Asia/Shanghai

    # The QR code, as printed, leads to this ticket's phone page.
    source = page.get_attribute("#paper-qr", "src")
    token = re.fullmatch(r"/api/v1/tickets/([A-Za-z0-9_-]+)/qr\.svg", source).group(1)
    assert server.ticket(token)["number"] == number
    page.wait_for_function("() => document.getElementById('paper-qr').naturalWidth > 0")
    png = page.locator("#paper-qr").screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert [code.text for code in decoded] == [f"{server.base_url}/t/{token}"]

    page.emulate_media(media="print")
    box = page.locator("#ticket-paper").bounding_box()
    assert box["width"] == pytest.approx(80 / 25.4 * 96, abs=2)  # 80 mm at CSS's 96 px per inch
    page.screenshot_as("ticket-print", clip=box)
    page.emulate_media(media="screen")

    page.clock.fast_forward(11_000)
    page.wait_for_selector("#screen-services:not([hidden])", timeout=TIMEOUT_MS)
    assert page.evaluate("window.__prints") == 1


def test_tapping_confirm_twice_fast_issues_one_ticket(server, kiosk):
    page = kiosk()
    before = len(waiting(server, "C"))
    page.click(".service[data-code=C]")
    page.wait_for_selector("#screen-documents:not([hidden])")
    page.eval_on_selector("#confirm", "button => { button.click(); button.click(); }")
    page.wait_for_selector("#screen-ticket:not([hidden])", timeout=TIMEOUT_MS)
    assert len(waiting(server, "C")) == before + 1


def test_retry_after_lost_answers_issues_one_ticket(server, kiosk):
    """The first attempt reaches the server but its answer is lost; the second gets a 503; the
    third succeeds. All three carry one idempotency key, and one ticket exists."""
    page = kiosk()
    before = len(waiting(server, "B"))
    keys: list[str] = []

    def flaky(route: Any) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server makes the ticket...
            route.abort("connectionreset")  # ...and the kiosk never hears of it
        elif len(keys) == 2:
            route.fulfill(status=503, json={"error": {"code": "database_unavailable", "message": "down"}})
        else:
            route.continue_()

    page.route("**/api/v1/tickets", flaky)
    page.click(".service[data-code=B]")
    page.click("#confirm")
    page.wait_for_selector("#screen-error:not([hidden])", timeout=TIMEOUT_MS)
    text = page.inner_text("#screen-error")
    assert "请稍候，系统暂时无法出票" in text and "Please wait a moment" in text
    assert "无法连接服务器" in text and "cannot reach the server" in text
    assert len(waiting(server, "B")) == before + 1  # made, though the kiosk does not know it yet

    page.click("#retry")
    page.wait_for_selector("#error-detail-en:has-text('busy')", timeout=TIMEOUT_MS)
    page.click("#retry")
    page.wait_for_selector("#screen-ticket:not([hidden])", timeout=TIMEOUT_MS)

    tickets = waiting(server, "B")
    assert len(tickets) == before + 1
    assert page.inner_text("#paper-number") == tickets[-1]["number"]
    assert len(keys) == 3 and len(set(keys)) == 1
    page.wait_for_function("() => window.__prints === 1", timeout=TIMEOUT_MS)
    forget_expected_errors(page, r"net::ERR_CONNECTION_RESET", r"status of 503")


def test_english_toggle_and_idle_documents_return_to_the_chinese_list(server, kiosk):
    page = kiosk()
    page.click("#lang-toggle")
    page.wait_for_selector("h1:has-text('What would you like to do today?')")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text(".service[data-code=A] .service-name") == "Cash"
    assert "Quick" in page.inner_text(".service[data-code=A]")
    assert page.inner_text("#lang-toggle") == "中文"
    page.screenshot_as("kiosk-en")

    page.click(".service[data-code=D]")
    assert page.locator("#doc-list li").all_inner_texts() == ["ID card", "Proof of income"]
    assert page.inner_text("#confirm") == "Take a ticket"

    # The customer walks away: after 30 s the next one finds the list, in Chinese.
    page.clock.fast_forward(31_000)
    page.wait_for_selector("#screen-services:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text(".service[data-code=A] .service-name") == "现金存取"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    page.click("#lang-toggle")
    page.click("#lang-toggle")
    assert page.inner_text(".service[data-code=A] .service-name") == "现金存取"


def test_waiting_counts_stay_live(server, kiosk):
    page = kiosk()
    count = len(waiting(server, "A"))
    server.issue("A", "door")
    page.wait_for_selector(
        f".service[data-code=A] .service-waiting:has-text('{count + 1} 人等候')", timeout=TIMEOUT_MS
    )


def test_keyboard_reaches_every_control(server, kiosk):
    page = kiosk()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.code") == "A"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "lang-toggle"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.code") == "A"
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-documents:not([hidden])")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "back"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-services:not([hidden])")
