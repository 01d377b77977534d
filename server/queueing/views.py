"""Plain-dict views of rows, in the shapes of API.md. Each view decides what its audience may see:
only the ticket's holder ever gets its token and tracking URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from server.models import Counter, Service, Ticket


class StaffNames(Protocol):
    """A staff row or a plain row of its id and names: what a counter view shows of its teller."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str: ...


class ServiceColumns(Protocol):
    """A service row, or the catalog's read-only copy of one (server/queueing/catalog.py)."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> dict[str, str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def expected_minutes(self) -> float: ...
    @property
    def documents(self) -> list[dict[str, str]]: ...
    @property
    def notes(self) -> dict[str, str] | None: ...
    @property
    def target_wait_s(self) -> int | None: ...


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset, as API.md asks."""
    return value.isoformat() if value is not None else None


def service_view(service: Service | ServiceColumns, waiting: int, estimated_wait_s: int | None) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "kind": service.kind,
        "expected_minutes": service.expected_minutes,
        "documents": service.documents,
        "notes": service.notes,
        "target_wait_s": service.target_wait_s,
        "waiting": waiting,
        "estimated_wait_s": estimated_wait_s,
    }


def ticket_view(
    ticket: Ticket,
    *,
    service_code: str,
    counter_number: int | None,
    position: int,
    estimated_wait_s: int | None,
    help_requested: bool = False,
    help_state: str | None = None,
    public_url: str | None = None,
    directed_counter: int | None = None,
) -> dict[str, Any]:
    """A ticket. ``public_url`` is given only when the audience holds the ticket's token; its
    phone page hears this view too, so a teller's note is never in it (see :func:`staff_details`)."""
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "service": service_code,
        "status": ticket.status,
        "people_ahead": ticket.people_ahead,
        "position": position,
        "estimated_wait_s": estimated_wait_s,
        "estimated_wait_at_issue_s": ticket.estimated_wait_s,
        # At issue, or since the branch found it would likely not be reached before closing.
        "fits_before_close": False if ticket.late_warned_at is not None else ticket.fits_before_close,
        "late_warned_at": iso(ticket.late_warned_at),
        "cancel_reason": ticket.cancel_reason,
        "issued_at": iso(ticket.issued_at),
        "called_at": iso(ticket.called_at),
        "served_at": iso(ticket.served_at),
        "finished_at": iso(ticket.finished_at),
        "counter": counter_number,
        "outcome": ticket.outcome,
        "recall_count": ticket.recall_count,
        "help_requested": help_requested,
        "help_state": help_state,
        "lang": ticket.lang,
        "business_day": ticket.business_day.isoformat(),
        "priority": bool(ticket.priority),
        "held_at": iso(ticket.held_at),
        "directed_counter": directed_counter,
    }
    if public_url is not None:
        view.update(holder_links(ticket, public_url))
    return view


def staff_details(ticket: Ticket, no_show_grace_s: int) -> dict[str, Any]:
    """What tellers see of a ticket and its holder does not: the latest hold or transfer note, and
    when a no-show may be recorded (``no_show_grace_s`` after the first call)."""
    allowed = ticket.called_at + timedelta(seconds=no_show_grace_s) if ticket.called_at is not None else None
    return {"note": ticket.note, "no_show_allowed_at": iso(allowed)}


def holder_links(ticket: Ticket, public_url: str) -> dict[str, str]:
    """What only the ticket's holder gets: its token, the phone page's URL and the QR code's."""
    return {
        "token": ticket.token,
        "track_url": f"{public_url}/t/{ticket.token}",
        "qr_svg_url": f"/api/v1/tickets/{ticket.token}/qr.svg",
        "qr_png_url": f"/api/v1/tickets/{ticket.token}/qr.png",
    }


def counter_view(
    counter: Counter,
    *,
    service_codes: list[str],
    staff: StaffNames | None,
    current: Ticket | None,
    current_service_code: str | None,
    no_show_grace_s: int,
    undo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A counter; ``undo``: what its undo would undo now (:func:`undo_view`), if anything."""
    return {
        "number": counter.number,
        "name": counter.name,
        "services": service_codes,
        "state": counter.state,
        "state_since": iso(counter.state_since),
        "staff": (
            {"id": staff.id, "username": staff.username, "name": staff.display_name} if staff is not None else None
        ),
        "current_ticket": (
            {
                "id": current.id,
                "number": current.number,
                "service": current_service_code,
                "status": current.status,
                "called_at": iso(current.called_at),
                "served_at": iso(current.served_at),
                "recall_count": current.recall_count,
                "priority": bool(current.priority),
                **staff_details(current, no_show_grace_s),
            }
            if current is not None
            else None
        ),
        "pause_reason": counter.pause_reason,
        "help_requested_at": iso(counter.help_requested_at),
        "help": help_view(counter),
        "undo": undo,
    }


def help_view(counter: Counter) -> dict[str, Any] | None:
    """The counter's open help request: when, why, and whether the manager is on the way."""
    if counter.help_requested_at is None:
        return None
    return {
        "requested_at": iso(counter.help_requested_at),
        "reason": counter.help_reason or "authorization",
        "text": counter.help_text,
        "state": "on_my_way" if counter.help_responded_at is not None else "waiting",
        "responded_at": iso(counter.help_responded_at),
    }
