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


def test_durations_read_as_durations_never_as_clock_times(server, open_page):
    """format.js: waits and ages in words in both languages ("20 分钟前", "17 min 30 s"), never "17:30"."""
    page = open_page(server.base_url + "/")
    words = page.evaluate(
        """async () => {
            const f = await import('/static/js/format.js');
            return [f.duration(1050, 'zh'), f.duration(1050, 'en'), f.duration(1020, 'en'),
                    f.duration(45, 'zh'), f.duration(3725, 'en'), f.duration(245, 'zh', { pad: true }),
                    f.ago(1206, 'zh'), f.ago(1206, 'en'), f.ago(20, 'en'),
                    f.minutes(4800, 'zh'), f.minutes(240, 'en')];
        }"""
    )
    assert words == ["17 分 30 秒", "17 min 30 s", "17 min", "45 秒", "1 h 2 min", "4 分 05 秒",
                     "20 分钟前", "20 min ago", "just now", "约 1 小时 20 分钟", "about 4 min"]
