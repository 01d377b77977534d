"""Issue 16, finding 3, on the /admin page in Chromium: an admin adds a kiosk and sees its pairing QR
code, revokes it, disables a teller, reads the audit log, in both languages; a teller is turned away.
Screenshots at 1024x768 (tablet), 1280x800 (desk) and 390x844 (phone)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import branch_server, sign_in
from tests.browser.test_manager import accessibility_violations
from tests.support.callwise import CallwiseServer

LONG_NAME = "欧阳娜娜·Schwarzenegger-Featherstonehaugh of the Savings Desk"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallwiseServer]:
    yield from branch_server(tmp_path_factory, "admin",
                             staff={"root": "admin", "lin": "teller", "mia": "manager"},
                             devices={"lobby": "display"})


def open_admin(open_page: Any, server: CallwiseServer, viewport: tuple[int, int], username: str = "root") -> Any:
    page = open_page(server.base_url + "/admin", viewport=viewport)
    sign_in(page, username)
    return page


def set_language(page: Any, lang: str) -> None:
    if page.evaluate("document.documentElement.lang").startswith(lang):
        return
    page.click("#lang-toggle")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else lang)


def test_the_page_has_the_same_content_security_policy_as_the_others(server):
    import requests

    headers = requests.get(server.base_url + "/admin", timeout=5).headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "/admin" in requests.get(server.base_url + "/", timeout=5).text  # listed on the start page


def test_a_teller_is_turned_away(server, open_page):
    page = open_admin(open_page, server, (1280, 800), "lin")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#view-admin")).to_be_hidden()


def test_an_admin_adds_a_kiosk_sees_its_qr_code_and_revokes_it(server, open_page):
    page = open_admin(open_page, server, (1024, 768))
    set_language(page, "zh")
    expect(page.locator("#staff-rows tr[data-username='lin']")).to_be_visible()
    page.click("#device-add")
    page.fill("#new-device-name", "门口取号机 Entrance kiosk")
    page.select_option("#new-device-kind", "kiosk")
    page.click("#device-form-submit")
    dialog = page.locator("#secret-dialog")
    expect(dialog).to_be_visible()
    url = page.locator("#pairing-url").inner_text()
    assert url.startswith(server.base_url + "/kiosk?device=")
    expect(page.locator("#pairing-qr")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    assert page.evaluate("document.getElementById('pairing-qr').naturalWidth") > 100  # the QR code drew
    page.screenshot_as("admin-pairing-1024")
    token = url.split("device=", 1)[1]
    assert server.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.click("#secret-done")
    expect(dialog).to_be_hidden()
    expect(page.locator("#pairing-url")).to_have_text("")  # forgotten once closed

    row = page.locator("#device-rows tr[data-device='门口取号机 Entrance kiosk']")
    expect(row.locator(".state-active")).to_be_visible()
    row.locator("button[data-action='revoke']").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-ok")
    expect(row.locator(".state-revoked")).to_be_visible()
    assert server.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    expect(page.locator("#audit-rows tr").first).to_have_attribute("data-action", "device_revoked")
    page.screenshot_as("admin-devices-1024", full_page=True)


def test_an_admin_disables_a_teller_after_confirming_and_the_audit_log_says_so(server, open_page):
    page = open_admin(open_page, server, (1280, 800))
    set_language(page, "en")
    row = page.locator("#staff-rows tr[data-username='lin']")
    row.locator("button[data-action='disable']").click()
    page.click("#confirm-cancel")  # a second thought: nothing happens
    expect(row.locator(".state-active")).to_be_visible()
    row.locator("button[data-action='disable']").click()
    expect(page.locator("#confirm-title")).to_have_text("Disable lin?")
    page.click("#confirm-ok")
    expect(row.locator(".state-disabled")).to_have_text("Disabled")
    expect(page.locator("#notice")).to_have_text("lin is disabled.")
    first = page.locator("#audit-rows tr").first
    expect(first).to_have_attribute("data-action", "staff_disabled")
    expect(first).to_contain_text("disabled account")
    expect(first).to_contain_text("root")
    assert server.post("/auth/login", None, json={"username": "lin", "password": "correct-horse-9"}).status_code == 401
    page.screenshot_as("admin-en-1280", full_page=True)
    assert accessibility_violations(page) == []
    set_language(page, "zh")
    expect(row.locator(".state-disabled")).to_have_text("已停用")
    expect(first).to_contain_text("停用账户")
    expect(page.locator("#notice")).to_have_text("已停用 lin。")  # the notice follows the language
    page.screenshot_as("admin-zh-1280", full_page=True)


def test_an_admin_adds_an_account_with_a_long_name_and_resets_a_password(server, open_page):
    page = open_admin(open_page, server, (1024, 768))
    set_language(page, "en")
    page.click("#staff-add")
    page.fill("#new-username", "ouyang.nana")
    page.fill("#new-name", LONG_NAME)
    page.select_option("#new-role", "teller")
    page.click("#staff-form-submit")
    expect(page.locator("#password-box")).to_be_visible()
    password = page.locator("#password-value").inner_text()
    assert len(password) == 19
    page.click("#secret-done")
    assert server.post("/auth/login", None, json={"username": "ouyang.nana", "password": password}).status_code == 200
    row = page.locator("#staff-rows tr[data-username='ouyang.nana']")
    expect(row).to_contain_text(LONG_NAME)
    page.screenshot_as("admin-long-name-1024", full_page=True)

    row.locator("button[data-action='reset_password']").click()
    page.click("#confirm-ok")
    expect(page.locator("#password-box")).to_be_visible()
    new_password = page.locator("#password-value").inner_text()
    assert new_password != password
    page.click("#secret-done")
    assert server.post("/auth/login", None, json={"username": "ouyang.nana", "password": password}).status_code == 401

    # The server's refusal shows in the dialog: the username is taken.
    page.click("#staff-add")
    page.fill("#new-username", "ouyang.nana")
    page.click("#staff-form-submit")
    expect(page.locator("#staff-form-error")).to_contain_text("already an account")
    page.locator("#staff-dialog [data-close]").click()
    page.errors[:] = [e for e in page.errors if "status of 409" not in e]


def test_an_admin_changes_a_role(server, open_page):
    page = open_admin(open_page, server, (1280, 800))
    set_language(page, "en")
    row = page.locator("#staff-rows tr[data-username='mia']")
    row.locator("button[data-action='role_change']").click()
    page.select_option("#role-select", "teller")
    page.click("#role-form-submit")
    expect(row).to_contain_text("Teller")
    expect(page.locator("#audit-rows tr").first).to_contain_text("Manager → Teller")


def test_the_page_on_a_phone_in_both_languages(server, open_page):
    page = open_admin(open_page, server, (390, 844))
    set_language(page, "zh")
    expect(page.locator("#staff-rows tr[data-username='root']")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot_as("admin-zh-390", full_page=True)
    page.click("#device-add")
    page.fill("#new-device-name", "大厅屏 2")
    page.select_option("#new-device-kind", "display")
    page.click("#device-form-submit")
    expect(page.locator("#pairing-qr")).to_be_visible()
    page.screenshot_as("admin-pairing-390")
    page.click("#secret-done")
    set_language(page, "en")
    expect(page.locator("#devices-title")).to_have_text("Kiosks and displays")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot_as("admin-en-390", full_page=True)
