"""What outer packages see of auth's rows: plain frozen values, no table behind them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignedInStaff:
    """The staff user behind a live session, as routes and pages name and read them."""

    id: int
    email: str
    role: str
