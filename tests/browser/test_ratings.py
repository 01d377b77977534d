"""Customers' ratings and comments on the manager's screens (issue 15): the dashboard's latest-ratings
panel (GET /ratings, then rating_received live), the low_rating alert card a 1-star rating raises, and
the daily report's ratings with comments and its CSV — in Chromium against a real server on the demo
config's branch and the manual clock. Ratings are given over the phone page's API; the teller serves
over HTTP. The teller has a long name and the comments are long: the screens must still read well.

The tests run in file order and share the module's server. Screenshots: ratings-*.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import demo_branch_server, open_dashboard, sign_in
from tests.support.callwise import CallwiseServer

MANAGER, TELLER, KIOSK = "mei", "ouyang.xiaoling-longname", "door"
DESK, TABLET = (1440, 900), (1024, 768)
LIVE_MS = 8000
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"
LONG_COMMENT = (
    "等了四十多分钟才叫到我的号，到了窗口柜员才说我的材料不全，让我回家去拿户口本，"
    "可是取号机和手机页面上都没有写要带户口本。白跑一趟，下午还要请假再来一次，非常失望！"
    "希望以后能在取号的时候就把需要的材料写清楚，也希望柜员能耐心一点解释。"
)
DONE: dict[str, Any] = {}  # what one test leaves for a later one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from demo_branch_server(tmp_path_factory, "ratings", staff={MANAGER: "manager", TELLER: "teller"},
                                  devices={KIOSK: "kiosk"})


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
    return response.json()


def served(server: CallwiseServer, service: str = "A") -> dict[str, Any]:
    """A ticket issued at the kiosk, then called, served and completed at counter 1."""
    ticket = dict(ok(server.post("/tickets", KIOSK, json={"service": service, "lang": "zh"})))
    if not any(c["number"] == 1 and c["state"] != "closed" for c in ok(server.get("/counters", TELLER))):
        ok(server.post("/counters/1/open", TELLER))
    ok(server.post("/counters/1/call", TELLER, json={"ticket": ticket["id"]}))
    ok(server.post("/counters/1/start", TELLER))
    ok(server.post("/counters/1/complete", TELLER, json={"outcome": "done"}))
    return ticket


def rate(server: CallwiseServer, ticket: dict[str, Any], stars: int, comment: str | None = None) -> None:
    body: dict[str, Any] = {"stars": stars}
    if comment is not None:
        body["comment"] = comment
    ok(server.post(f"/tickets/{ticket['token']}/rating", json=body))


def folded(locator: Any) -> bool:
    """Whether a text is cut short by its fold (the rest is there, hidden)."""
    return bool(locator.evaluate("e => e.scrollHeight > e.clientHeight + 1"))


def test_a_one_star_rating_with_a_long_comment_reaches_the_dashboard_at_once_with_a_low_rating_card(
        server, open_page):
    page = open_dashboard(open_page, server, MANAGER, DESK)
    expect(page.locator("#ratings-none")).to_be_visible()

    ticket = served(server)
    rate(server, ticket, 1, LONG_COMMENT)
    DONE["low"] = ticket

    # The latest-ratings panel: live, with the stars, where, and the comment folded to three lines.
    item = page.locator("#rating-list li.rating").first
    expect(item).to_have_attribute("data-stars", "1", timeout=LIVE_MS)
    expect(item).to_have_attribute("data-ticket", ticket["number"])
    expect(item.locator(".stars")).to_have_text("★☆☆☆☆")
    expect(item.locator(".stars")).to_have_attribute("aria-label", "1 星（满分 5 星）")
    expect(item.locator(".rating-where")).to_have_text(f"客户 {ticket['number']} · 1号窗口（{TELLER}）")
    comment = item.locator(".rating-comment")
    expect(comment).to_have_text(LONG_COMMENT)
    assert folded(comment)
    expect(page.locator("#ratings-low")).to_have_text("1")
    item.locator(".fold-toggle").click()
    expect(item.locator(".fold-toggle")).to_have_text("收起")
    assert not folded(comment)
    item.locator(".fold-toggle").click()
    assert folded(comment)

    # The low_rating card, like every alert card: rule, severity, its action (follow up), acknowledge.
    card = page.locator("#alert-list li.alert[data-rule='low_rating']")
    expect(card).to_have_count(1, timeout=LIVE_MS)
    expect(card.locator(".alert-rule")).to_have_text("客户差评")
    expect(card.locator(".stars")).to_have_text("★☆☆☆☆")
    expect(card.locator(".rating-where")).to_contain_text(f"1号窗口（{TELLER}）")
    expect(card.locator(".alert-comment")).to_have_text(LONG_COMMENT)
    expect(card.locator(".alert-action-text")).to_contain_text(ticket["number"])
    expect(card.locator("button.ack")).to_be_visible()
    assert folded(card.locator(".alert-comment"))
    shape = card.evaluate("""e => ({overflow: e.scrollWidth - e.clientWidth,
                                    height: e.getBoundingClientRect().height, width: e.getBoundingClientRect().width,
                                    list: e.closest('.alert-list').clientWidth})""")
    assert shape["overflow"] <= 0 and shape["width"] <= shape["list"] + 1, shape  # nothing sticks out sideways
    assert shape["height"] < 320, shape  # a 200-character comment does not push the other cards away
    page.screenshot_as("ratings-dashboard-live-1440-zh")

    # Two more: a happy one with a short comment, and stars without a comment. No new card.
    rate(server, served(server, "B"), 5, "办理很快，柜员很耐心，谢谢！")
    rate(server, served(server, "A"), 4)
    expect(page.locator("#rating-list li.rating")).to_have_count(3, timeout=LIVE_MS)
    expect(page.locator("#rating-list li.rating").first).to_have_attribute("data-stars", "4")
    expect(page.locator("#rating-list li.rating").first.locator(".rating-comment")).to_have_text("未留言")
    expect(page.locator("#rating-list li.rating").nth(1).locator(".fold-toggle")).to_be_hidden()
    expect(page.locator("#alert-list li.alert[data-rule='low_rating']")).to_have_count(1)
    assert [a["rule"] for a in ok(server.get("/alerts", MANAGER))].count("low_rating") == 1


LAYOUT = """() => {
  const small = [...document.querySelectorAll('button, a.button')]
    .filter((e) => e.offsetParent && getComputedStyle(e).visibility !== 'hidden')
    .map((e) => [e.id || e.className || e.textContent.trim(), Math.round(e.getBoundingClientRect().width),
                 Math.round(e.getBoundingClientRect().height)])
    .filter(([, w, h]) => w < 44 || h < 44);
  const panel = document.querySelector('.ratings-panel').getBoundingClientRect();
  return {
    scroll: [document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight],
    small, panel: {top: panel.top, bottom: panel.bottom, height: panel.height},
  };
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", [DESK, TABLET], ids=["desk-1440x900", "tablet-1024x768"])
def test_the_latest_ratings_and_the_low_rating_card_fit_the_desk_and_the_tablet(server, open_page, viewport, lang):
    ticket = DONE["low"]
    page = open_dashboard(open_page, server, MANAGER, viewport)
    if lang == "en":
        page.click("#lang-toggle")
        expect(page.locator("#ratings-title")).to_contain_text("Latest ratings")
    # Read from GET /ratings when the page opens (not only heard live).
    items = page.locator("#rating-list li.rating")
    expect(items).to_have_count(3)
    expect(items.nth(2)).to_have_attribute("data-ticket", ticket["number"])
    card = page.locator("#alert-list li.alert[data-rule='low_rating']")
    expect(card.locator(".alert-comment")).to_have_text(LONG_COMMENT)
    if lang == "en":
        expect(card.locator(".alert-rule")).to_have_text("Low rating")
        expect(items.nth(2).locator(".stars")).to_have_attribute("aria-label", "1 of 5 stars")
        expect(items.nth(2).locator(".rating-where")).to_have_text(
            f"customer {ticket['number']} · Counter 1 ({TELLER})")
    layout = page.evaluate(LAYOUT)
    width, height = viewport
    assert layout["scroll"] == [0, 0], layout
    assert layout["small"] == [], layout
    assert layout["panel"]["bottom"] <= height and layout["panel"]["height"] >= 120, layout
    page.screenshot_as(f"ratings-dashboard-{width}-{lang}")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations] == []


def test_the_report_lists_the_comments_with_their_csv_and_the_priority_and_counter_tool_figures(server, open_page):
    ticket = DONE["low"]
    # A priority ticket issued by staff, and a customer who leaves the queue from the phone.
    staff_issued = ok(server.post("/tickets", TELLER, json={"service": "C", "lang": "zh", "priority": True}))
    assert staff_issued["priority"] is True
    leaving = ok(server.post("/tickets", KIOSK, json={"service": "D", "lang": "en"}))
    ok(server.post(f"/tickets/{leaving['token']}/cancel"))

    page = open_page(server.base_url + "/manager/report", viewport=DESK)
    sign_in(page, MANAGER)
    rows = page.locator("#table-comments tbody tr")
    expect(rows.first).to_be_visible(timeout=LIVE_MS)
    low = rows.filter(has_text=ticket["number"])
    expect(low).to_have_count(1)
    expect(low.locator("td.stars")).to_have_text("★☆☆☆☆")
    expect(low.locator("td.comment")).to_have_text(LONG_COMMENT)
    expect(low).to_contain_text("1号窗口")
    expect(low).to_contain_text(TELLER)
    expect(rows.filter(has_text="办理很快")).to_have_count(1)

    expect(page.locator("#fig-priority-issued .figure-value")).to_have_text("1")
    expect(page.locator("#fig-cancelled-by-customer .figure-value")).to_have_text("1")
    expect(page.locator("#fig-held .figure-value")).to_have_text("0")
    expect(page.locator("#fig-called-by-choice .figure-value")).to_have_text("3")  # served() calls by number

    # The ratings CSV: the day's ratings with their comments alone (`?table=ratings`).
    link = page.locator("#ratings-csv-link")
    href = link.get_attribute("href")
    assert href.startswith("/api/v1/reports/daily.csv?") and re.search(r"[?&]table=ratings(&|$)", href), href
    answer = requests.get(server.base_url + href, headers={"Authorization": f"Bearer {server.tokens[MANAGER]}"},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    assert "csv" in answer.headers["Content-Type"]
    text = answer.content.decode("utf-8-sig")
    assert LONG_COMMENT in text and ticket["number"] in text
    assert text.splitlines()[0].startswith("时间,号码,业务,星级,留言") and "按业务" not in text  # only the ratings
    page.screenshot_as("ratings-report-1440-zh", full_page=True)

    page.click("#lang-toggle")
    expect(page.locator("#comments-title")).to_have_text("Ratings and comments")
    expect(page.locator("#ratings-csv-link")).to_have_attribute("href", re.compile(r"lang=en"))
    page.screenshot_as("ratings-report-1440-en", full_page=True)
