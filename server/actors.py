"""Who is asking: a staff member, a device, or nobody in particular."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

STAFF_ROLES = ("teller", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display")


@dataclass(frozen=True)
class Actor:
    kind: Literal["staff", "device", "anonymous", "system"]
    id: int | None = None
    role: str | None = None  # teller | manager | admin, or kiosk | display for devices
    branch_id: int | None = None  # None: an admin of every branch
    name: str = ""
    token_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_manager(self) -> bool:
        """Managers and admins: they may act on any counter of their branch."""
        return self.kind == "staff" and self.role in ("manager", "admin")

    def is_device(self, kind: str) -> bool:
        return self.kind == "device" and self.role == kind

    def may_see_branch(self, branch_id: int) -> bool:
        if self.kind == "staff" and self.role == "admin" and self.branch_id is None:
            return True
        return self.branch_id == branch_id

    @property
    def staff_id(self) -> int | None:
        return self.id if self.kind == "staff" else None

    @property
    def device_id(self) -> int | None:
        return self.id if self.kind == "device" else None


ANONYMOUS = Actor(kind="anonymous")
SYSTEM = Actor(kind="system", name="system")
