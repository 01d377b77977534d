"""Socket.IO room names: who hears what. Every room is scoped by branch (or by one ticket)."""

from __future__ import annotations


def displays(branch_id: int) -> str:
    """Lobby displays of a branch."""
    return f"b{branch_id}:displays"


def kiosks(branch_id: int) -> str:
    """Kiosks of a branch (they show live waiting counts and estimates)."""
    return f"b{branch_id}:kiosks"


def staff(branch_id: int) -> str:
    """Every teller, manager and admin connected to a branch."""
    return f"b{branch_id}:staff"


def managers(branch_id: int) -> str:
    """Managers and admins of a branch."""
    return f"b{branch_id}:managers"


def person(staff_id: int) -> str:
    """One staff member's own connections (a teller's console hears its counter's alerts here)."""
    return f"staff:{staff_id}"


def phones(branch_id: int) -> str:
    """Every phone page of a branch: they hear queue_changed (no personal data) and then ask for
    their own ticket, so a position moves live when someone ahead is called."""
    return f"b{branch_id}:phones"


def ticket(ticket_id: int) -> str:
    """The phone page of one ticket."""
    return f"ticket:{ticket_id}"
