"""Staff roles, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COMPLIANCE = "compliance"
    SUPPORT = "support"
    FINANCE = "finance"
