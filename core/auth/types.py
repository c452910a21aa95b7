"""Staff roles and the staff member view, shared with outer packages (the tables are in models.py)."""

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
