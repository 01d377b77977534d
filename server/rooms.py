"""Socket.IO room names: who hears what. Every room is scoped by branch (or by one ticket)."""

from __future__ import annotations

from enum import IntFlag


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


class Audience(IntFlag):
    """Who hears a message, as families of rooms. A change's messages name their audiences; the
    unit of work turns them into rooms and writes on the change's events which families heard it,
    so each family's screens know where their own part of the event log stands (the heartbeat's
    per-audience version, server/realtime.py)."""

    DISPLAYS = 1
    KIOSKS = 2
    STAFF = 4
    PHONES = 8  # every phone page of the branch
    HOLDER = 16  # the phone page of the one ticket a message is about
    MANAGERS = 32
    PERSON = 64  # one staff member's own connections


# The families a heartbeat tells their version: the others hear only what a family above also hears
# (managers and persons are staff) or nothing that a screen keeps state from.
HEARTBEAT_FAMILIES = {
    Audience.DISPLAYS: "displays",
    Audience.KIOSKS: "kiosks",
    Audience.STAFF: "staff",
    Audience.PHONES: "phones",
}
EVERY_SCREEN = Audience.DISPLAYS | Audience.KIOSKS | Audience.STAFF | Audience.PHONES


def of(audience: Audience, branch_id: int, *, ticket_id: int | None = None, staff_id: int | None = None) -> list[str]:
    """The rooms of ``audience`` in a branch (``ticket_id`` for HOLDER, ``staff_id`` for PERSON)."""
    out = []
    for member, room in ((Audience.DISPLAYS, displays), (Audience.KIOSKS, kiosks), (Audience.STAFF, staff),
                         (Audience.PHONES, phones), (Audience.MANAGERS, managers)):
        if audience & member:
            out.append(room(branch_id))
    if audience & Audience.HOLDER:
        assert ticket_id is not None, "a HOLDER message names its ticket"
        out.append(ticket(ticket_id))
    if audience & Audience.PERSON:
        assert staff_id is not None, "a PERSON message names its staff member"
        out.append(person(staff_id))
    return out
