"""Customer statuses and languages, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    EN = "en"
    SW = "sw"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"
