"""The dashboard of a busy hall, on a desk monitor (1440×900) and on the lobby manager's tablet
(1024×768), in both languages: many alerts of several rules, instructions sent, answered and
overdue, a complaint from a counter. The layout is fixed: it fills the window without empty bands
or a page scroll, the queue table stays on screen, panels scroll inside themselves, and every
button is at least 44×44 px. Screenshots: dashboard-busy-<width>-<lang>.png.

The hall is built once through the API on the manual clock (one module server): all four counters
serving, short queues waiting for each service, two help requests (one answered "on my way").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, open_dashboard
from tests.support.callwise import CallwiseServer

MANAGER, KIOSK = "mia", "door"
TELLERS = {1: "lin", 2: "zhou", 3: "qian", 4: "wu"}
SEVERITY_RANK = {"critical": 2, "warning": 1}
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"
GAP_PX = 16  # the grid's gaps are 12 px (10 on a tablet): anything wider is an empty band


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def open_alerts(server: CallwiseServer) -> list[dict[str, Any]]:
    return list(ok(server.get("/alerts", MANAGER)))


def wait_for_alert(server: CallwiseServer, rule: str, counter: int) -> dict[str, Any]:
    """Help requests are raised by the alert engine right after the request: wait for the card."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [a for a in open_alerts(server) if a["rule"] == rule and a["counter"] == counter]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {rule} alert for counter {counter}: {open_alerts(server)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    staff = {MANAGER: "manager", **{name: "teller" for name in TELLERS.values()}}
    yield from branch_server(tmp_path_factory, "busy", staff=staff, devices={KIOSK: "kiosk"})


@pytest.fixture(scope="module")
def busy_hall(server: CallwiseServer) -> CallwiseServer:
    """Every counter serving, short queues for every service, help asked twice; some alerts seen,
    one help answered "on my way", an instruction answered "cannot", another one overdue."""
    def act(number: int, action: str, body: dict[str, Any] | None = None) -> Any:
        return ok(server.post(f"/counters/{number}/{action}", TELLERS[number], json=body or {}))

    for number in TELLERS:
        act(number, "open")
    for service in "ABCD":
        server.issue(service, KIOSK)
    for number in TELLERS:
        act(number, "call-next")
        act(number, "start")
    for service in "ABBCCD":
        server.issue(service, KIOSK)
    act(1, "request-help", {"reason": "authorization"})
    lin_help = wait_for_alert(server, "help_requested", 1)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 60}))
    act(3, "request-help", {"reason": "documents", "text": "旧版身份证"})
    wait_for_alert(server, "help_requested", 3)
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 300}))

    ok(server.post(f"/alerts/{lin_help['id']}/respond", MANAGER, json={"state": "on_my_way"}))
    alerts = open_alerts(server)
    short = next(a for a in alerts if a["rule"] == "short_queue_long_wait")
    ok(server.post(f"/alerts/{short['id']}/ack", MANAGER))
    level = next(a for a in alerts if (a["action"] or {}).get("instruction") == "serve_ticket")
    sent = ok(server.post(f"/counters/{level['action']['counter']}/instruct", MANAGER, json={
        "kind": level["action"]["instruction"], "ticket": level["action"]["ticket"]["id"], "alert": level["id"]}))
    ok(server.post(f"/instructions/{sent['id']}/ack", TELLERS[level["action"]["counter"]],
                   json={"answer": "cannot", "text": "客户资料未齐，需再等几分钟"}))
    ok(server.post("/counters/2/instruct", MANAGER, json={"kind": "come_to_desk", "text": "带上差错单"}))
    b_ticket = next(c["current_ticket"] for c in ok(server.get("/counters", MANAGER)) if c["number"] == 2)
    ok(server.post("/complaints", "zhou", json={
        "kind": "inconsistent_instructions", "ticket": b_ticket["id"], "counter": 2, "subject": "银行卡",
        "text": "大堂说只带身份证就可以"}))
    ok(server.post("/clock/advance", MANAGER, json={"seconds": 61}))  # the come-to-desk is overdue now
    return server


def dashboard(open_page: Any, server: CallwiseServer, viewport: tuple[int, int], lang: str) -> Any:
    page = open_dashboard(open_page, server, MANAGER, viewport)
    if lang == "en":
        page.click("#lang-toggle")
        expect(page.locator("#alerts-title")).to_contain_text("Alerts")
    return page


def expected_order(alerts: list[dict[str, Any]]) -> list[str]:
    """Most severe first, then newest first (the server's times share one offset, so they sort as text)."""
    ordered = sorted(alerts, key=lambda a: (SEVERITY_RANK[a["severity"]], a["raised_at"], a["id"]), reverse=True)
    return [str(a["id"]) for a in ordered]


LAYOUT = """(gap) => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,
                                                                  right: r.right, bottom: r.bottom}; };
  const grid = document.getElementById('view-dashboard');
  const style = getComputedStyle(grid);
  const g = box(grid);
  const areas = [...grid.querySelectorAll('.kpi, .dashboard .panel')].filter((e) => e.offsetParent).map(box);
  // Points over the grid's content box that are further than `gap` from every panel: empty bands.
  const pad = {t: parseFloat(style.paddingTop), r: parseFloat(style.paddingRight),
               b: parseFloat(style.paddingBottom), l: parseFloat(style.paddingLeft)};
  const empty = [];
  for (let y = g.y + pad.t + 2; y < g.bottom - pad.b - 2; y += 8) {
    for (let x = g.x + pad.l + 2; x < g.right - pad.r - 2; x += 8) {
      const near = areas.some((a) => x >= a.x - gap && x <= a.right + gap && y >= a.y - gap && y <= a.bottom + gap);
      if (!near) empty.push([Math.round(x), Math.round(y)]);
    }
  }
  const small = [...document.querySelectorAll('button, a.button')]
    .filter((e) => e.offsetParent && getComputedStyle(e).visibility !== 'hidden')
    .map((e) => [e.id || e.className || e.textContent.trim(), Math.round(e.getBoundingClientRect().width),
                 Math.round(e.getBoundingClientRect().height)])
    .filter(([, w, h]) => w < 44 || h < 44);
  return {
    viewport: [innerWidth, innerHeight],
    scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    grid: g, topbar: box(document.querySelector('.topbar')),
    queues: box(document.querySelector('.queues-panel')), table: box(document.querySelector('.queue-table')),
    empty: empty.slice(0, 10), emptyCount: empty.length, small,
    alerts: [...document.querySelectorAll('#alert-list > li.alert')].map((e) => e.dataset.id),
  };
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", [(1440, 900), (1024, 768)], ids=["desk-1440x900", "tablet-1024x768"])
def test_a_busy_dashboard_fills_the_window_without_bands_or_small_buttons_most_severe_and_newest_first(
        busy_hall, open_page, viewport, lang):
    server = busy_hall
    alerts = open_alerts(server)
    assert 8 <= len(alerts) <= 12, [(a["rule"], a["severity"]) for a in alerts]
    assert len({a["rule"] for a in alerts}) >= 2, [a["rule"] for a in alerts]

    page = dashboard(open_page, server, viewport, lang)
    expect(page.locator("#alert-list > li.alert")).to_have_count(len(alerts))
    expect(page.locator("#instruction-list li.instruction[data-state='overdue']")).to_have_count(1)
    expect(page.locator("#instruction-list li.instruction").first).to_have_attribute("data-state", "overdue")
    expect(page.locator("#complaint-list li.complaint")).to_have_count(1)
    expect(page.locator(".tile[data-counter='1'] .tile-staff")).to_have_text("lin")
    page.wait_for_timeout(300)  # the chart settles into its panel
    layout = page.evaluate(LAYOUT, GAP_PX)
    width, height = viewport

    assert layout["scroll"] == [width, height], layout["scroll"]  # no page scroll, either way
    assert layout["grid"]["bottom"] == pytest.approx(height, abs=1), layout["grid"]  # the grid fills the window
    assert layout["grid"]["y"] == pytest.approx(layout["topbar"]["bottom"], abs=1)
    assert layout["emptyCount"] == 0, f"empty bands at {layout['empty']}"
    assert layout["small"] == [], f"buttons under 44×44 px: {layout['small']}"
    assert layout["queues"]["y"] < height - 150, layout["queues"]  # the queue panel is on screen
    if width >= 1440:
        assert layout["table"]["bottom"] <= height, layout["table"]  # the whole queue table, no scrolling
    assert layout["alerts"] == expected_order(alerts)
    # Each counter's time in its state ("7 分 01 秒", "7 min 01 s") reads on one line.
    lines = page.evaluate("""() => [...document.querySelectorAll('.tile-timer')].map((e) =>
        e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).fontSize))""")
    assert lines and all(0 < n < 2 for n in lines), lines  # in font sizes: one line is about 1.2
    page.screenshot_as(f"dashboard-busy-{width}-{lang}")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations] == []

    # The Instruct dialog's buttons are big enough to tap as well.
    page.locator(".tile[data-counter='3'] button.instruct").click()
    expect(page.locator("#instruct-dialog")).to_be_visible()
    small = page.evaluate("""() => [...document.querySelectorAll('#instruct-dialog button')]
        .map((e) => [e.textContent.trim(), e.getBoundingClientRect().width, e.getBoundingClientRect().height])
        .filter(([, w, h]) => w < 44 || h < 44)""")
    assert small == []
    page.keyboard.press("Escape")
    expect(page.locator("#instruct-dialog")).to_be_hidden()


def test_a_new_alert_comes_in_at_the_top_of_its_severity_in_view(busy_hall, open_page):
    server = busy_hall
    page = dashboard(open_page, server, (1440, 900), "zh")
    before = open_alerts(server)
    expect(page.locator("#alert-list > li.alert")).to_have_count(len(before))
    page.locator("#alert-list").evaluate("e => e.scrollTo({top: e.scrollHeight})")  # the manager looked further down

    # wu (counter 4) asks for help: a new card.
    ok(server.post("/counters/4/request-help", "wu", json={"reason": "difficult_customer"}))
    card = page.locator("li.alert[data-rule='help_requested'][data-id]").filter(has_text="4号窗口")
    expect(card).to_have_count(1)
    new = card.get_attribute("data-id")
    severity = card.get_attribute("data-severity")
    ids = page.locator("#alert-list > li.alert").evaluate_all("items => items.map((e) => e.dataset.id)")
    more_severe = sum(1 for a in before if SEVERITY_RANK[a["severity"]] > SEVERITY_RANK[severity])
    assert ids.index(new) == more_severe, ids  # first of its severity: the newest
    if more_severe == 0:
        expect(card).to_be_in_viewport()
    assert page.locator("#alert-list").evaluate("e => e.scrollTop") == 0  # the list went back to its top
    page.screenshot_as("dashboard-busy-new-alert")
