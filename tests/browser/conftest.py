"""Browser tests: Debian's Chromium driven by Playwright against a real Callwise server process.

Every page a test opens is watched: a console error or an uncaught exception fails the test. Each
test module gets its own server (tests/support/callwise.py) on the manual clock. Screenshots go to
test-artifacts/screenshots/. Without Chromium the tests are skipped, unless
CALLWISE_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.callwise import PASSWORD, CallwiseServer
from tests.support.process import REPO

CHROMIUM = os.environ.get("CALLWISE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CALLWISE_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium is required (CALLWISE_REQUIRE_BROWSER) but {CHROMIUM} is missing")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class WatchedPage:
    """A Playwright page that records console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)

    def screenshot_as(self, name: str, **options: Any) -> Path:
        """Save a screenshot under test-artifacts/screenshots/<name>.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
        self.page.screenshot(path=str(path), **options)
        return path


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(url, viewport=(w, h), **context_options)`` -> a WatchedPage; all are closed and
    checked for console errors when the test ends."""
    contexts: list[tuple[Any, WatchedPage]] = []

    def make(url: str | None = None, viewport: tuple[int, int] = (1280, 800), **options: Any) -> WatchedPage:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **options)
        page = WatchedPage(context.new_page())
        contexts.append((context, page))
        if url:
            page.goto(url)
        return page

    yield make
    errors = [error for _, page in contexts for error in page.errors]
    for context, _ in contexts:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"


def branch_server(tmp_path_factory: pytest.TempPathFactory, name: str, **accounts: Any) -> Iterator[CallwiseServer]:
    """A module's own server: ``yield from branch_server(tmp_path_factory, "kiosk", staff=..., devices=...)``."""
    with CallwiseServer.running(tmp_path_factory.mktemp(name), **accounts) as server:
        yield server


class DemoConfigServer(CallwiseServer):
    """A server on the demo config's branch (config.toml: its long service names, five services, six
    counters, 09:00-17:00), on the manual clock from ``start`` and without the kiosk's rate limit."""

    start_at = "2026-11-30T10:00:00+08:00"  # a Monday, open

    def write_config(self) -> Path:
        text = (REPO / "config.toml").read_text(encoding="utf-8")
        database = self.directory / "callwise.db"
        server = (f'[server]\nmode = "demo"\ndatabase_url = "sqlite:///{database}"\n'
                  f'public_url = "http://127.0.0.1:{self.port}"\nhost = "127.0.0.1"\nport = {self.port}\n\n')
        replacements = {
            "server": server,
            "clock": f'[clock]\nmode = "manual"\nstart = "{self.start_at}"\n\n',
            "limits": "[limits]\nkiosk_tickets_per_minute = 100000\nlogin_attempts_per_minute = 100000\n\n",
        }
        for section, replacement in replacements.items():
            text, count = re.subn(rf"(?ms)^\[{section}\]\n.*?(?=^\[)", replacement, text, count=1)
            assert count == 1, f"no [{section}] section in config.toml"
        path = self.directory / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path


def demo_branch_server(tmp_path_factory: pytest.TempPathFactory, name: str,
                       **accounts: Any) -> Iterator[CallwiseServer]:
    """Like :func:`branch_server`, on the demo config's branch (:class:`DemoConfigServer`)."""
    with DemoConfigServer.running(tmp_path_factory.mktemp(name), **accounts) as server:
        yield server


def clean_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Fill in and send a staff page's log-in form (console, dashboard, report)."""
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def open_dashboard(open_page: Any, server: CallwiseServer, username: str, viewport: tuple[int, int]) -> Any:
    """The manager's dashboard at ``viewport``, signed in as ``username`` and live."""
    from playwright.sync_api import expect

    page = open_page(server.base_url + "/manager", viewport=viewport)
    sign_in(page, username)
    expect(page.locator("#live")).to_have_attribute("data-status", "online")
    return page


def expect_refusals(page: Any, *statuses: int) -> None:
    """Chromium logs every 4xx answer to fetch() as a console error; take the ones a test caused on
    purpose (one per status given) off the page's error list, failing if one was not logged."""
    for status in statuses:
        logged = f"status of {status} "
        match = next((e for e in page.errors if "Failed to load resource" in e and logged in e), None)
        assert match is not None, f"no {status} answer was logged: {page.errors}"
        page.errors.remove(match)
