"""Time as a port, so tests can move it (quote expiry, lockouts, holds).

The composition root (webapp.bootstrap) builds one clock; the unit of work carries it (the session
factory puts it in each session's `info` and in its connections' execution options), so code with a
session asks `clock_of(session).now()` and column defaults read the same clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

# The key under which a session's `info` and its connections' execution options carry the clock.
CLOCK_KEY = "kibeti_clock"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class _CarriesInfo(Protocol):
    @property
    def info(self) -> dict[Any, Any]: ...


def clock_of(session: _CarriesInfo) -> Clock:
    """The clock the unit of work carries (a Session or AsyncSession from core.db.session)."""
    try:
        clock: Clock = session.info[CLOCK_KEY]
    except KeyError:
        raise RuntimeError("a session without a clock: build sessions with core.db.session") from None
    return clock
