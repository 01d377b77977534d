"""The manager's dashboard and daily report in Chromium, against a real server on the manual clock.

One module server (its day moves forward test by test), so the tests run in file order: the
dashboard scenario leaves the day's history that the report test then reads. Besides the manager
mia and the teller lin of the scenario, two more tellers keep the hall realistic for the
screenshots: zhou serving at counter 2 and qian on a break at counter 3.
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "manager",
                             staff={"mia": "manager", "lin": "teller", "zhou": "teller", "qian": "teller"},
                             devices={"door": "kiosk"})


AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"


def accessibility_violations(page: Any) -> list[Any]:
    """axe-core's violations on the page as it is now (contrast, labels, roles...)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def advance(server: CallwiseServer, seconds: float) -> None:
    ok(server.post("/clock/advance", "mia", json={"seconds": seconds}))


def act(server: CallwiseServer, action: str, body: dict[str, Any] | None = None, counter: int = 1,
        who: str = "lin") -> dict[str, Any]:
    return ok(server.post(f"/counters/{counter}/{action}", who, json=body or {}))


def log_in(page: Any, username: str) -> None:
    sign_in(page, username)


def test_a_teller_is_turned_away_from_the_dashboard(server, open_page):
    page = open_page(server.base_url + "/manager")
    log_in(page, "lin")
    expect(page.locator("#login-error")).to_contain_text("仅供大堂经理")
    expect(page.locator("#view-dashboard")).to_be_hidden()
    assert accessibility_violations(page) == []


def test_an_idle_counter_alert_appears_is_acknowledged_and_clears_on_call_next(server, open_page):
    page = open_page(server.base_url + "/manager", viewport=(1440, 900))
    log_in(page, "mia")
    tiles = page.locator(".tile")
    expect(tiles).to_have_count(4)
    expect(page.locator("#live")).to_have_attribute("data-status", "online")
    expect(page.locator(".tile[data-counter='1']")).to_have_attribute("data-state", "closed")

    # A morning at counter 1: three customers served (one needing a redo), one who never came,
    # while an account-opening customer (C) waits with nobody to serve them.
    ok(server.post("/counters/1/open", "lin"))
    for service in ("A", "A", "A", "B", "C"):
        server.issue(service, "door")
    for outcome, minutes in (("done", 2), ("redo", 4), ("done", 3)):
        act(server, "call-next")
        act(server, "start")
        advance(server, minutes * 60)
        act(server, "complete", {"outcome": outcome})
    act(server, "call-next")
    advance(server, 60)  # a no-show is taken only after [queue] no_show_grace_s (60 s) since the call
    act(server, "no-show")
    # 09:10: zhou starts serving a transfer at counter 2, qian opens counter 3 and goes on a break.
    act(server, "open", counter=2, who="zhou")
    server.issue("B", "door")
    act(server, "call-next", counter=2, who="zhou")
    act(server, "start", counter=2, who="zhou")
    act(server, "open", counter=3, who="qian")
    act(server, "pause", {"reason": "break"}, counter=3, who="qian")
    waiting = server.issue("A", "door")  # only counter 1 is free to call it

    tile = page.locator(".tile[data-counter='1']")
    expect(tile).to_have_attribute("data-state", "idle")
    expect(tile.locator(".tile-staff")).to_have_text("lin")
    expect(page.locator("#queue-rows tr[data-service='A'] .waiting-count")).to_have_text("1")
    expect(page.locator(".tile[data-counter='2']")).to_have_attribute("data-state", "serving")
    expect(page.locator(".tile[data-counter='3'] .pause-reason")).to_have_text("休息")
    expect(page.locator("#kpi-tickets .kpi-value")).to_have_text("7", timeout=10_000)  # the report refresh
    expect(page.locator("#waiting-chart canvas")).to_have_count(1)
    page.screenshot_as("dashboard")

    advance(server, 60)
    alert = page.locator("li.alert[data-rule='idle_counter']")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("1号窗口已空闲1分钟")
    expect(page.locator(".tile.alert-warning[data-counter='1']")).to_have_count(1)
    page.screenshot_as("dashboard-alert")
    assert accessibility_violations(page) == []

    alert.locator("button.ack").click()
    expect(alert).to_have_class("alert sev-warning acknowledged")
    expect(alert.locator(".ack-state")).to_have_text("已确认 · mia")

    called = act(server, "call-next")
    assert called["number"] == waiting["number"]
    expect(alert).to_have_count(0)
    expect(tile).to_have_attribute("data-state", "calling")
    expect(tile.locator(".ticket-number")).to_have_text(waiting["number"])

    page.click("#lang-toggle")
    expect(tile.locator(".tile-state")).to_have_text("Calling")
    expect(page.locator("#kpi-title")).to_have_text("Today so far")
    page.screenshot_as("dashboard-en")


def test_the_report_page_shows_tables_and_charts_and_downloads_the_csv(server, open_page):
    page = open_page(server.base_url + "/manager", viewport=(1440, 1000))
    log_in(page, "mia")
    expect(page.locator(".tile")).to_have_count(4)
    page.click("#report-link")
    page.wait_for_url("**/manager/report**")

    services = page.locator("#table-services tbody tr")
    expect(services).to_have_count(4)
    expect(services.first).to_contain_text("A 现金存取")
    tellers = page.locator("#table-tellers tbody tr")
    expect(tellers).to_have_count(3)
    expect(tellers.first).to_contain_text("lin")  # most served first
    expect(page.locator("#kpi-tickets .kpi-value")).to_have_text("7")
    expect(page.locator("#kpi-estimates .kpi-value")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
    expect(page.locator("#kpi-estimates .kpi-note")).to_contain_text("闭店取消 0")
    for chart in ("#chart-per-hour", "#chart-waits", "#chart-waiting"):
        expect(page.locator(f"{chart} canvas")).to_have_count(1)
    page.screenshot_as("report", full_page=True)
    assert accessibility_violations(page) == []

    with page.expect_download() as download_info:
        page.click("#csv-link")
    download = download_info.value
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115 - read once
    assert download.suggested_filename.endswith(".csv")
    for code, name in (("A", "现金存取"), ("B", "转账汇款"), ("C", "开户"), ("D", "贷款")):
        assert f"{code},{name}" in text
    assert "按柜员" in text and "lin" in text

    page.click("#lang-toggle")
    expect(page.locator("#table-services tbody tr").first).to_contain_text("A Cash")
    assert "lang=en" in (page.locator("#csv-link").get_attribute("href") or "")


def test_the_dashboard_and_the_report_take_their_words_from_the_vocabulary(server, open_page):
    vocabulary = server.get("/branch").json()["vocabulary"]

    def word(kind: str, code: str, lang: str, form: str = "label") -> str:
        return next(term for term in vocabulary[kind] if term["code"] == code)[form][lang]

    page = open_page(server.base_url + "/manager", viewport=(1440, 1000))
    log_in(page, "mia")
    expect(page.locator(".tile[data-counter='4'] .tile-state")).to_have_text(word("counter_states", "closed", "zh"))
    expect(page.locator(".tile[data-counter='3'] .pause-reason")).to_have_text(word("pause_reasons", "break", "zh"))
    page.click("#report-link")
    page.wait_for_url("**/manager/report**")
    pauses = page.locator("#table-pauses tbody tr")
    expect(pauses.first.locator("th")).to_have_text(word("pause_reasons", "break", "zh"))
    expect(page.locator("#table-tellers thead")).to_contain_text(word("outcomes", "redo", "zh", "short"))
    expect(page.locator("#table-counters thead")).to_contain_text(word("pause_reasons", "cash_replenish", "zh"))
    expect(page.locator("#table-alerts tbody")).to_contain_text(word("alert_rules", "idle_counter", "zh"))

    page.click("#lang-toggle")
    expect(pauses.first.locator("th")).to_have_text(word("pause_reasons", "break", "en"))
    expect(page.locator("#table-counters thead")).to_contain_text(word("pause_reasons", "cash_replenish", "en"))
    expect(page.locator("#table-alerts tbody")).to_contain_text(word("alert_rules", "idle_counter", "en"))
