"""Staff roles, the staff member view and the signed-in staff user, shared with outer packages (the
tables are in models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    SUPPORT = "support"
    FINANCE = "finance"


@dataclass(frozen=True)
class StaffMember:
    """A staff user as another package names one (an assignee, a maker or checker): no secrets."""

    id: int
    email: str
    role: str
    active: bool


@dataclass(frozen=True)
class SignedInStaff:
    """The staff user behind a live session, as routes and pages name and read them."""

    id: int
    email: str
    role: str
