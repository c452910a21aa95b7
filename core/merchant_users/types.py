"""Merchant user roles, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class MerchantRole(StrEnum):
    OWNER = "owner"
    VIEWER = "viewer"
