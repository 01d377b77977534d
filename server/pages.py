"""The pages of API.md, served from the UI folders (kiosk_ui/, counter_ui/, display_ui/,
manager_ui/, admin_ui/), and the shared static files (server/static/). Pages are plain HTML and ES modules;
they talk to the API and to Socket.IO like any other client."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request, send_from_directory
from flask.typing import ResponseReturnValue

from server.api.common import runtime

ROOT = Path(__file__).resolve().parent.parent
UI_FOLDERS = {
    "kiosk": ROOT / "kiosk_ui",
    "counter": ROOT / "counter_ui",
    "display": ROOT / "display_ui",
    "manager": ROOT / "manager_ui",
    "admin": ROOT / "admin_ui",
}
STATIC = Path(__file__).resolve().parent / "static"

bp = Blueprint("pages", __name__, template_folder="templates")

PAGES = {
    "kiosk": ("取号机", "Ticket kiosk", "Customers take a ticket here (paired with a kiosk device token)."),
    "counter": ("柜员台", "Teller console", "Tellers sign in at a counter and call the next customer."),
    "display": ("大厅叫号屏", "Lobby display", "Shows and announces every call (paired with a display token)."),
    "manager": ("大堂经理看板", "Manager dashboard", "Counters, queues and early-warning alerts, live."),
    "admin": ("账户与设备", "Accounts and devices", "Admins add, disable and revoke staff accounts and devices."),
}

# No inline scripts, nothing from elsewhere: a page can only load this server's files. connect-src
# 'self' covers the page's own ws:// and wss:// origin too (CSP Level 3, which every browser the
# screens run on implements); "ws: wss:" would let an injected script talk to any host.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; media-src 'self' data:; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _branch_name() -> dict[str, str]:
    name = runtime().config.branch.name
    return {"zh": name, "en": name} if isinstance(name, str) else dict(name)


def _page(area: str, filename: str) -> Response:
    response = send_from_directory(UI_FOLDERS[area], filename, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Ticket pages carry their token in the URL: never send it on as a Referer.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        # Answers carry tokens (log-in, a ticket's, the CSRF token of /auth/me, a device's pairing)
        # or live data that no cache should keep or hand to someone else. The few answers meant to
        # be cached (a ticket's QR code, a spoken call) say so themselves.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/")
def start() -> ResponseReturnValue:
    """The start page for the branch's IT: links to every page and the server's health."""
    return render_template("start.html", branch=_branch_name(), pages=PAGES)


@bp.get("/kiosk")
def kiosk() -> ResponseReturnValue:
    """The ticket kiosk (``?device=TOKEN`` pairs the browser once)."""
    return _page("kiosk", "kiosk.html")


@bp.get("/t/<token>")
def ticket_page(token: str) -> ResponseReturnValue:
    """The phone page a ticket's QR code opens (the page reads its token from the URL)."""
    return _page("kiosk", "ticket.html")


@bp.get("/counter")
def counter() -> ResponseReturnValue:
    """The teller's console."""
    return _page("counter", "counter.html")


@bp.get("/display")
def display() -> ResponseReturnValue:
    """The lobby display (``?device=TOKEN`` pairs the browser once)."""
    return _page("display", "display.html")


@bp.get("/manager")
def manager() -> ResponseReturnValue:
    """The manager's live dashboard."""
    return _page("manager", "manager.html")


@bp.get("/admin")
def admin() -> ResponseReturnValue:
    """Accounts and devices, for admins (issue 16, finding 3)."""
    return _page("admin", "admin.html")


@bp.get("/manager/report")
def report() -> ResponseReturnValue:
    """The daily report with charts and a CSV download."""
    return _page("manager", "report.html")


@bp.get("/ui/<area>/<path:filename>")
def ui_file(area: str, filename: str) -> ResponseReturnValue:
    """A screen's own scripts, styles and sounds."""
    if area not in UI_FOLDERS or filename.endswith(".html"):
        abort(404)
    return send_from_directory(UI_FOLDERS[area], filename, max_age=300)


@bp.get("/static/<path:filename>")
def static_file(filename: str) -> ResponseReturnValue:
    """Shared helpers and vendored libraries."""
    return send_from_directory(STATIC, filename, max_age=3600)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers ask for it whatever the page says."""
    return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
