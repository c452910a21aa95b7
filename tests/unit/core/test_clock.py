"""The unit of work carries the clock: sessions from core.db.session answer `clock_of`, a session
built any other way is refused rather than silently read from the system clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.clock import FixedClock, SystemClock, clock_of
from core.db.session import clock_of_factory, make_session_factory, with_clock


async def test_sessions_carry_the_clock_they_were_built_with() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    clock = FixedClock(datetime(2021, 3, 4, tzinfo=UTC))
    factory = make_session_factory(engine, clock=clock)
    async with factory() as session:
        assert clock_of(session) is clock
    assert clock_of_factory(factory) is clock
    assert isinstance(clock_of_factory(make_session_factory(engine)), SystemClock)
    assert with_clock(factory, clock) is factory
    other = FixedClock()
    async with with_clock(factory, other)() as session:
        assert clock_of(session) is other
    await engine.dispose()


async def test_a_session_without_a_clock_is_refused() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with async_sessionmaker(engine)() as session:
        with pytest.raises(RuntimeError, match="without a clock"):
            clock_of(session)
    with pytest.raises(RuntimeError, match="without a clock"):
        clock_of_factory(async_sessionmaker[AsyncSession](engine))
    await engine.dispose()
