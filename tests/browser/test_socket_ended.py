"""Issue 16, finding 2, as the screens show it: when the server ends a page's live connection
because its credential ended (a display given a new token, an account disabled), the page does not
spin on "reconnecting": it asks again, is refused, and shows what to do (live.js).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from server.models import Staff
from tests.browser.conftest import branch_server, expect_refusals, open_dashboard, sign_in
from tests.support.callwise import CallwiseServer

# The server's periodic credential check runs every 2 s; the page then reconnects and is refused.
SHOWN_WITHIN_MS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "ended", staff={"mia": "manager", "lin": "teller"},
                             devices={"hall": "display"})


def disable(server: CallwiseServer, username: str) -> None:
    engine = create_engine(f"sqlite:///{server.directory / 'callwise.db'}")
    with engine.begin() as connection:
        connection.execute(update(Staff).where(Staff.username == username).values(active=False))
    engine.dispose()


def test_a_display_given_a_new_token_asks_to_be_paired_again(server, open_page):
    page = open_page(viewport=(1280, 720))
    page.goto(f"{server.base_url}/display?device={server.tokens['hall']}")
    page.wait_for_selector("body[data-snapshots='1']")
    server.add_device("hall", "display")  # the CLI, another process
    page.wait_for_selector("body[data-state='refused'] #unpaired:visible", timeout=SHOWN_WITHIN_MS)
    assert page.inner_text("#unpaired-title-en") == "This display's pairing is no longer valid"


def test_a_disabled_managers_dashboard_returns_to_the_log_in(server, open_page):
    page = open_dashboard(open_page, server, "mia", (1280, 800))
    disable(server, "mia")
    expect(page.locator("#view-login")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    expect(page.locator("#view-dashboard")).to_be_hidden()
    expect_refusals(page, 401)  # the page's own log-out of a log-in that is already over


def test_a_disabled_tellers_console_returns_to_the_log_in(server, open_page):
    page = open_page(server.base_url + "/counter")
    sign_in(page, "lin")
    expect(page.locator("#live-dot")).to_have_class(re.compile(r"\bonline\b"))
    disable(server, "lin")
    expect(page.locator("#view-login")).to_be_visible(timeout=SHOWN_WITHIN_MS)
