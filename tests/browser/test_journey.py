"""One customer's journey across every screen at once, each in its own browser, nothing over HTTP:
the kiosk issues the ticket, its printed QR code opens the phone page, the teller presses Call next
on the console, the lobby display shows and announces the call, the phone says where to go, the
teller completes, and the customer's rating is stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server
from tests.browser.test_counter import sign_in_at_counter
from tests.browser.test_display import FAKE_SPEECH, TV, spaced
from tests.support.callwise import CallwiseServer

TELLER = "lin"  # the console helpers sign this teller in at counter 1, which serves A first
LIVE_MS = 5000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "journey", staff={TELLER: "teller"},
                             devices={"door": "kiosk", "lobby": "display"})


def test_a_ticket_from_the_kiosk_is_called_from_the_console_shown_on_the_display_and_the_phone_and_rated(
    server: CallwiseServer, open_page: Any
) -> None:
    display = open_page(viewport=TV)
    display.add_init_script(FAKE_SPEECH)
    display.goto(f"{server.base_url}/display?device={server.tokens['lobby']}")
    display.wait_for_selector("body[data-snapshots='1']")

    console = open_page()
    sign_in_at_counter(console, server)
    expect(console.locator("#state-badge")).to_have_text("空闲")

    # The customer takes a ticket at the kiosk.
    kiosk = open_page(f"{server.base_url}/kiosk?device={server.tokens['door']}")
    kiosk.wait_for_selector("#screen-services:not([hidden]) .service")
    kiosk.click(".service[data-code=A]")
    kiosk.click("#confirm")
    kiosk.wait_for_selector("#screen-ticket:not([hidden])")
    number = kiosk.inner_text("#paper-number")
    token = re.fullmatch(r"/api/v1/tickets/([A-Za-z0-9_-]+)/qr\.svg", kiosk.get_attribute("#paper-qr", "src")).group(1)

    # ... opens the phone page from its QR code ...
    phone = open_page(f"{server.base_url}/t/{token}", viewport=(390, 844), has_touch=True, is_mobile=True)
    expect(phone.locator("#number")).to_have_text(number)
    expect(phone.locator("#ahead")).to_contain_text("下一位")

    # ... the display counts them waiting, and the teller's console offers the call.
    expect(display.locator("#queue-list li[data-service='A'] .q-waiting")).to_have_text("1")
    expect(console.locator("#waiting li[data-service='A'] .waiting-count")).to_have_text("1 人")
    flashes = int(display.get_attribute("#now", "data-flashes") or 0)
    console.click("#btn-call")
    expect(console.locator("#ticket-number")).to_have_text(number)

    # The lobby shows the call, lit up as the newest, and announces it in both languages.
    display.wait_for_selector(f"#current[data-number='{number}'][data-counter='1']", timeout=LIVE_MS)
    assert int(display.get_attribute("#now", "data-flashes") or 0) > flashes
    display.wait_for_selector(f"#announcement[data-number='{number}'][data-recall='false']", timeout=15000)
    display.wait_for_function("() => window.__spoken.length >= 2", timeout=15000)
    assert [s["text"] for s in display.evaluate("window.__spoken")[:2]] == [
        f"请 {spaced(number)} 号到 1 号窗口", f"Ticket {spaced(number)}, please go to counter 1"]
    assert display.is_hidden("#current-recall")
    # ... and the phone tells its holder where to go.
    phone.wait_for_selector("#state-called:not([hidden]) h1:has-text('请到 1 号窗口')", timeout=LIVE_MS)

    # A recall from the console is announced again and marked as a recall.
    console.click("#btn-recall")
    display.wait_for_selector(f"#announcement[data-number='{number}'][data-recall='true']", timeout=15000)
    assert display.is_visible("#current-recall")

    # Served and finished at the console; the phone asks for a rating, which is stored.
    console.click("#btn-start")
    expect(console.locator("#state-badge")).to_have_text("办理中")
    console.click("#btn-done")
    expect(console.locator("#state-badge")).to_have_text("空闲")
    phone.wait_for_selector("#state-done:not([hidden]) #rating", timeout=LIVE_MS)
    phone.click(".star[data-stars='5']")
    with phone.expect_response(lambda r: r.url.endswith("/rating")) as answer:
        phone.click("#rate-submit")
    assert answer.value.status == 200
    assert server.ticket(token)["rating"] == 5
