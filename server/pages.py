"""The pages of API.md. The screens themselves are built in kiosk_ui/, counter_ui/, display_ui/ and
manager_ui/; until they land these routes serve a bilingual page that says what each one is for."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from server.api.common import runtime

bp = Blueprint("pages", __name__, template_folder="templates")

PAGES = {
    "kiosk": ("取号机", "Ticket kiosk", "Customers take a ticket here (paired with a kiosk device token)."),
    "counter": ("柜员台", "Teller console", "Tellers sign in at a counter and call the next customer."),
    "display": ("大厅叫号屏", "Lobby display", "Shows and announces every call (paired with a display token)."),
    "manager": ("大堂经理看板", "Manager dashboard", "Counters, queues and early-warning alerts, live."),
}


def _branch_name() -> dict[str, str]:
    name = runtime().config.branch.name
    return {"zh": name, "en": name} if isinstance(name, str) else dict(name)


@bp.get("/")
def start():  # type: ignore[no-untyped-def]
    """The start page for the branch's IT: links to every page and the server's health."""
    return render_template("start.html", branch=_branch_name(), pages=PAGES)


@bp.get("/kiosk")
@bp.get("/counter")
@bp.get("/display")
@bp.get("/manager")
def screen():  # type: ignore[no-untyped-def]
    """Kiosk, teller console, lobby display and manager dashboard."""
    key = request.path.strip("/")
    return render_template("placeholder.html", branch=_branch_name(), page=PAGES[key], key=key)


@bp.get("/t/<token>")
def ticket_page(token: str):  # type: ignore[no-untyped-def]
    """The phone page a ticket's QR code opens."""
    return render_template(
        "placeholder.html",
        branch=_branch_name(),
        page=("我的排队号", "My ticket", "Follows one ticket live."),
        key="ticket",
        token=token,
    )
