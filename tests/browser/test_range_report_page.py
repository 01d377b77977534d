"""The report page's date-range view (issue 18) in Chromium, against a real server on the manual clock.

The module's server gets three weeks of history over its HTTP API before any page opens: customers
served at counter 1 (one needing a redo), complaints of several kinds recorded by the manager and the
teller, one after an idle-counter alert had warned of it. Then the page shows the range, and every
figure it shows is checked against GET /api/v1/reports/range for the same range: the headline tiles,
the weekly complaints chart (one series per kind, its figures table), the CSV downloads, the
language, the range kept in the URL, and the empty state. Screenshots: range-report-*.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, sign_in
from tests.browser.test_manager import accessibility_violations
from tests.support.callwise import CallwiseServer

MANAGER, TELLER, KIOSK = "mia", "lin.xiaoyu", "door"
DAY_S = 24 * 3600
# The manual clock starts on Monday 2026-11-30 09:00 (+08:00, ISO week 49); the history runs to
# Monday 2026-12-14 (week 51), "today" when the page opens: the default range is then the four ISO
# weeks 48-51, 2026-11-23 to 2026-12-14, the first of them empty.
TODAY, DEFAULT_FROM = "2026-12-14", "2026-11-23"
COMPLAINTS = {
    # week 49: the teller's mistake and a long wait in a short queue
    "2026-W49": [("teller_error", "柜员把金额输错，重新办了一遍", TELLER),
                 ("short_queue_wait", "前面只有一个人也等了很久", MANAGER)],
    # week 50: a staffed counter not calling (an idle-counter alert warned of it), and one of "other"
    "2026-W50": [("idle_counter", "1号窗口有人却不叫号", MANAGER), ("other", "大堂太冷", MANAGER)],
    # week 51: too many counters paused
    "2026-W51": [("counters_paused", "好几个窗口都暂停了", TELLER)],
}


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), f"{response.status_code} {response.text}"
    return response.json()


def advance(server: CallwiseServer, seconds: float) -> None:
    ok(server.post("/clock/advance", MANAGER, json={"seconds": seconds}))


def next_week(server: CallwiseServer) -> None:
    """A week later, same time; the staff log in again (tokens last 12 hours of the manual clock)."""
    advance(server, 7 * DAY_S)
    for name in (MANAGER, TELLER):
        server.tokens[name] = server.login(name)


def open_counter(server: CallwiseServer) -> None:
    if any(c["number"] == 1 and c["state"] == "closed" for c in ok(server.get("/counters", TELLER))):
        ok(server.post("/counters/1/open", TELLER))


def serve(server: CallwiseServer, outcome: str = "done", minutes: int = 3) -> dict[str, Any]:
    """A ticket issued at the kiosk, called next at counter 1, served for ``minutes`` and completed."""
    ticket = server.issue("A", KIOSK)
    open_counter(server)
    ok(server.post("/counters/1/call-next", TELLER))
    ok(server.post("/counters/1/start", TELLER))
    advance(server, minutes * 60)
    ok(server.post("/counters/1/complete", TELLER, json={"outcome": outcome}))
    return ticket


def complain(server: CallwiseServer, kind: str, text: str, who: str, **about: Any) -> dict[str, Any]:
    return dict(ok(server.post("/complaints", who, json={"kind": kind, "text": text, **about})))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    for running in branch_server(tmp_path_factory, "range_report", staff={MANAGER: "manager", TELLER: "teller"},
                                 devices={KIOSK: "kiosk"}):
        make_history(running)
        yield running


def make_history(server: CallwiseServer) -> None:
    (teller_error, error_text, by_teller), (short_wait, wait_text, by_manager) = COMPLAINTS["2026-W49"]
    served = serve(server)
    complain(server, teller_error, error_text, by_teller, ticket=serve(server, "redo")["id"], counter=1)
    complain(server, short_wait, wait_text, by_manager, ticket=served["id"])

    next_week(server)
    open_counter(server)
    waiting = server.issue("A", KIOSK)
    advance(server, 90)  # counter 1 free while a customer waits: the idle-counter alert...
    alert = next(a for a in ok(server.get("/alerts", MANAGER)) if a["rule"] == "idle_counter")
    # ...which the manager acts on (an instruction naming it), yet the customer complains 2.5 minutes later.
    ok(server.post("/counters/1/instruct", MANAGER, json={"kind": "call_next", "alert": alert["id"]}))
    advance(server, 150)
    warned = complain(server, "idle_counter", COMPLAINTS["2026-W50"][0][1], MANAGER, counter=1, ticket=waiting["id"])
    assert warned["warned"]["lead_s"] == 150 and warned["warned"]["acted"], warned
    ok(server.post("/counters/1/call-next", TELLER))
    ok(server.post("/counters/1/start", TELLER))
    advance(server, 120)
    ok(server.post("/counters/1/complete", TELLER, json={"outcome": "done"}))
    serve(server, "error")
    complain(server, "other", COMPLAINTS["2026-W50"][1][1], MANAGER)

    next_week(server)
    serve(server)
    complain(server, "counters_paused", COMPLAINTS["2026-W51"][0][1], TELLER)
    serve(server)


def range_report(server: CallwiseServer, first: str, last: str) -> dict[str, Any]:
    return dict(ok(server.get(f"/reports/range?from={first}&to={last}", MANAGER)))


def open_range(open_page: Any, server: CallwiseServer, query: str = "", viewport: tuple[int, int] = (1280, 800)) -> Any:
    page = open_page(f"{server.base_url}/manager/report{query}", viewport=viewport)
    sign_in(page, MANAGER)
    expect(page.locator("#view-range")).to_be_visible()
    expect(page.locator("#range-period")).to_contain_text("时区")  # loaded, not "counting"
    return page


def table_rows(page: Any, table: str) -> list[list[str]]:
    return list(page.locator(f"{table} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"))


def percent(share: float | None) -> str:
    if share is None:
        return "—"
    return f"{share * 100:.0f}%" if share in (0, 1) else f"{share * 100:.1f}%"


def test_the_range_view_shows_the_apis_figures_and_the_weekly_trend_per_kind(server, open_page):
    vocabulary = server.get("/branch").json()["vocabulary"]
    kinds = [(term["code"], term["label"]) for term in vocabulary["complaint_kinds"]]
    page = open_page(f"{server.base_url}/manager/report", viewport=(1024, 768))
    sign_in(page, MANAGER)
    expect(page.locator("#view-day")).to_be_visible()
    page.click("#mode-range")
    expect(page.locator("#mode-range")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#range-period")).to_contain_text(f"{DEFAULT_FROM} 至 {TODAY}")
    expect(page.page).to_have_url(re.compile(rf"\?from={DEFAULT_FROM}&to={TODAY}$"))
    api = range_report(server, DEFAULT_FROM, TODAY)
    total = api["total"]
    assert [w["week"] for w in api["weeks"]] == ["2026-W48", "2026-W49", "2026-W50", "2026-W51"]
    assert total["complaints_total"] == 5 and total["complaints_warned_acted"] == 1, total

    # The headline tiles say what the API says.
    tile = lambda name: page.locator(f"#rkpi-{name} .kpi-value")  # noqa: E731 - a short look-up
    expect(tile("tickets")).to_have_text(str(total["tickets"]))
    expect(tile("service-level")).to_have_text(percent(total["service_level"]))
    expect(tile("errors")).to_have_text(percent(total["error_rate"]))
    expect(page.locator("#rkpi-errors .kpi-note")).to_have_text(
        f"重办 {total['outcomes']['redo']} · 差错 {total['outcomes']['error']}")
    expect(tile("complaints")).to_have_text("5")
    expect(tile("warned")).to_have_text(f"{total['complaints_warned']} / 5")
    expect(page.locator("#rkpi-warned .kpi-note")).to_have_text(
        f"{percent(total['complaints_warned_share'])} · 其中已处置 {total['complaints_warned_acted']}")
    assert total["incidents_total"] >= 1, total  # counter 1 free for 4 minutes while a customer waited
    expect(tile("incidents")).to_have_text(str(total["incidents_no_complaint"]))
    expect(page.locator("#rkpi-incidents .kpi-note")).to_have_text(
        f"事件共 {total['incidents_total']} · 有预警 {total['incidents_warned']}")
    expect(tile("ratings")).to_have_text("—")

    # The weekly complaints chart: one series per kind, in the vocabulary's words, and its figures.
    legend = page.locator("#chart-range-complaints .u-legend .u-series")
    expect(legend).to_have_count(len(kinds))
    assert [t.strip() for t in legend.all_inner_texts()] == [label["zh"] for _, label in kinds]
    page.click("#chart-range-complaints-figures summary")
    head = page.locator("#table-range-complaints-chart thead th").all_inner_texts()
    assert head[1:-1] == [label["zh"] for _, label in kinds]
    rows = table_rows(page, "#table-range-complaints-chart")
    assert [row[0].split("（")[0] for row in rows] == ["第48周", "第49周", "第50周", "第51周"]
    for row, week in zip(rows, api["weeks"], strict=True):
        assert row[1:] == [str(week["complaints"][code]) for code, _ in kinds] + [str(week["complaints_total"])]
    for week, recorded in COMPLAINTS.items():
        counts = next(w for w in api["weeks"] if w["week"] == week)["complaints"]
        assert all(counts[kind] == 1 for kind, _, _ in recorded), (week, counts)
    # The incidents' chart the same way, in the vocabulary's words for the four kinds.
    incident_kinds = [(term["code"], term["label"]) for term in vocabulary["incident_kinds"]]
    expect(page.locator("#chart-range-incidents .u-legend .u-series")).to_have_count(len(incident_kinds))
    page.click("#chart-range-incidents-figures summary")
    assert page.locator("#table-range-incidents-chart thead th").all_inner_texts()[1:-1] == [
        label["zh"] for _, label in incident_kinds]
    for row, week in zip(table_rows(page, "#table-range-incidents-chart"), api["weeks"], strict=True):
        assert row[1:] == [str(week["incidents"][code]) for code, _ in incident_kinds] + [str(week["incidents_total"])]
    expect(page.locator("#chart-range-service-level canvas")).to_have_count(1)

    # The tables: weeks, the complaints (the warned one names its alert), the alerts per rule.
    expect(page.locator("#table-range-weeks tbody tr")).to_have_count(4)
    complaints = page.locator("#table-range-complaints tbody tr")
    expect(complaints).to_have_count(5)
    warned = complaints.filter(has_text=COMPLAINTS["2026-W50"][0][1]).locator("td")
    expect(warned).to_have_text(["有人不叫号", re.compile(r"^A\d+ · 1号窗口$"), COMPLAINTS["2026-W50"][0][1], MANAGER,
                                 "窗口空闲", "2 分 30 秒", "是"])  # the rule before it, its lead, acted on
    expect(page.locator("#table-range-alerts tbody tr").first).to_have_text(re.compile(
        rf"^窗口空闲\s*1\s*\d+\s*\d+\s*{total['alerts']['idle_counter']['acted']}$"))
    incidents = page.locator("#table-range-incidents tbody tr")
    expect(incidents).to_have_count(len(api["incidents"]))
    idle = next(i for i in api["incidents"] if i["kind"] == "idle_counter")
    expect(incidents.filter(has_text="1号窗口").first.locator("th")).to_have_text(
        next(label["zh"] for code, label in incident_kinds if code == "idle_counter"))
    assert idle["date"] == "2026-12-07", idle
    expect(page.locator("#range-days-summary")).to_have_text("显示全部 22 天")
    expect(page.locator("#range-days-details")).not_to_have_attribute("open", "")
    page.screenshot_as("range-report-1024-zh", full_page=True)
    assert accessibility_violations(page) == []

    # Another language: the tiles, the legend, the figures table and the links follow.
    page.click("#lang-toggle")
    expect(page.locator("#rkpi-warned dt")).to_have_text("Complaints an alert warned of")
    expect(legend.first).to_have_text(kinds[0][1]["en"])
    expect(page.locator("#table-range-complaints-chart thead th").nth(1)).to_have_text(kinds[0][1]["en"])
    expect(page.locator("#range-period")).to_contain_text(f"{DEFAULT_FROM} to {TODAY}")
    expect(page.locator("#range-csv-link")).to_have_attribute("href", re.compile(r"lang=en"))
    page.screenshot_as("range-report-1024-en", full_page=True)

    # The CSV downloads, with the log-in's cookie as a click on the link would send it.
    def download(selector: str) -> list[list[str]]:
        answer = page.request.get(server.base_url + page.locator(selector).get_attribute("href"))
        assert answer.status == 200 and "csv" in answer.headers["content-type"], answer.status
        return list(csv.reader(io.StringIO(answer.body().decode("utf-8-sig"))))

    weeks = download("a[data-csv='weeks']")
    assert weeks[0][:3] == ["Week", "From", "To"] and "Complaints" in weeks[0]
    w50 = next(row for row in weeks if row[0] == "2026-W50")
    assert w50[weeks[0].index("Complaints")] == "2"
    days = download("a[data-csv='days']")
    assert days[0][0] == "Date" and len(days) == 1 + 22
    listed = download("a[data-csv='complaints']")
    assert listed[0][:2] == ["Time", "Kind"] and any(COMPLAINTS["2026-W51"][0][1] in row for row in listed)
    everything = download("#range-csv-link")
    assert everything[0][0].startswith("Callwise range report") and ["By week"] in everything
    listed = download("a[data-csv='incidents']")
    assert listed[0][:2] == ["Date", "Incident"] and len(listed) == 1 + len(api["incidents"])
    rules = download("a[data-csv='alerts']")
    assert any(row[:2] == ["Idle counter", "1"] for row in rules), rules
    assert download("a[data-csv='comments']")[0]  # a header row, though nobody rated


def test_a_bookmarked_range_is_restored_and_a_quick_pick_replaces_it(server, open_page):
    page = open_range(open_page, server, "?from=2026-12-07&to=2026-12-13")
    expect(page.locator("#range-from")).to_have_value("2026-12-07")
    expect(page.locator("#range-to")).to_have_value("2026-12-13")
    api = range_report(server, "2026-12-07", "2026-12-13")
    expect(page.locator("#rkpi-complaints .kpi-value")).to_have_text(str(api["total"]["complaints_total"]))
    # One week with data: its bars, and a word that a trend needs more weeks.
    expect(page.locator("#chart-range-complaints canvas")).to_have_count(1)
    expect(page.locator("#chart-range-complaints-empty")).to_have_text("只有一周：选更长的区间可看趋势。")
    page.screenshot_as("range-report-one-week-1280", full_page=True)

    page.click("#range-picks button[data-pick='8w']")
    expect(page.page).to_have_url(re.compile(rf"\?from=2026-10-26&to={TODAY}$"))
    expect(page.locator("#range-period")).to_contain_text("2026-10-26 至 2026-12-14 · 50 天")
    page.reload()
    expect(page.locator("#mode-range")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#range-from")).to_have_value("2026-10-26")
    expect(page.locator("#range-period")).to_contain_text("2026-10-26 至 2026-12-14")
    expect(page.locator("#table-range-weeks tbody tr")).to_have_count(8)
    expect(page.locator("#rkpi-complaints .kpi-value")).to_have_text("5")

    page.click("#mode-day")
    expect(page.page).to_have_url(re.compile(rf"\?date={TODAY}$"))
    expect(page.locator("#view-range")).to_be_hidden()
    expect(page.locator("#table-services tbody tr")).to_have_count(4)


def test_a_range_with_nothing_in_it_says_so_and_a_phone_can_read_it(server, open_page):
    page = open_range(open_page, server, "?from=2026-11-09&to=2026-11-22", viewport=(390, 844))
    expect(page.locator("#rkpi-tickets .kpi-value")).to_have_text("0")
    expect(page.locator("#rkpi-warned .kpi-value")).to_have_text("0")
    for chart, text in (("complaints", "此区间没有记录投诉。"), ("service-level", "此区间没有叫号。")):
        expect(page.locator(f"#chart-range-{chart}-empty")).to_have_text(text)
        expect(page.locator(f"#chart-range-{chart} canvas")).to_have_count(0)
        expect(page.locator(f"#chart-range-{chart}-figures")).to_be_hidden()
    expect(page.locator("#table-range-complaints tbody")).to_have_text("无记录")
    # Nothing sticks out of a phone's width but the tables, which scroll in their own box.
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    page.screenshot_as("range-report-empty-390", full_page=True)

    page.goto(f"{server.base_url}/manager/report?from={DEFAULT_FROM}&to={TODAY}")
    expect(page.locator("#range-period")).to_contain_text(TODAY)
    expect(page.locator("#chart-range-complaints canvas")).to_have_count(1)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    page.screenshot_as("range-report-390", full_page=True)
