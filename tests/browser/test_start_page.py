"""The start page: links to every screen and the server's health, with no console errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import branch_server
from tests.support.callwise import CallwiseServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "start")


def test_start_page_links_every_screen_and_shows_health(server, open_page):
    page = open_page(server.base_url + "/")
    page.wait_for_selector("#health-text:has-text('OK')")
    links = {a.get_attribute("href") for a in page.query_selector_all("a")}
    assert {"/kiosk", "/counter", "/display", "/manager", "/manager/report"} <= links
    assert "测试支行" in page.title()


def test_pages_forbid_inline_scripts_and_foreign_origins(server):
    import requests

    for path in ("/", "/kiosk", "/counter", "/display", "/manager"):
        headers = requests.get(server.base_url + path, timeout=5).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"], path
        assert headers["Referrer-Policy"] == "no-referrer"
