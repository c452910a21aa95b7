"""The lean reads' connection lane (`core.flows.accounts._fetch`, PostgreSQL): reads beyond the
lane's connections wait in order and are handed a finished read's connection; every connection goes
back to the pool once nobody waits, whether reads succeed, fail or are cancelled; and sessions keep
the half of the pool the lane never takes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.flows import accounts


def _engine(factory: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    engine = factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


def _assert_all_returned(engine: AsyncEngine) -> None:
    lane = accounts._lane(engine)
    assert (lane.out, len(lane.waiting)) == (0, 0)
    pool: Any = engine.pool
    assert pool.checkedout() == 0


async def test_many_concurrent_reads_share_the_lane(
    pg_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine = _engine(pg_session_factory)
    rows = await asyncio.gather(*(accounts._fetch(engine, "SELECT $1::int", i) for i in range(60)))
    assert [row[0][0] for row in rows] == list(range(60))
    pool: Any = engine.pool
    assert accounts._lane(engine).limit == pool.size() // 2
    _assert_all_returned(engine)


async def test_failed_and_cancelled_reads_give_their_connections_back(
    pg_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine = _engine(pg_session_factory)
    with pytest.raises(Exception, match="division by zero"):
        await accounts._fetch(engine, "SELECT 1 / $1::int", 0)
    _assert_all_returned(engine)
    mixed = await asyncio.gather(
        *(accounts._fetch(engine, "SELECT 1 / $1::int", i % 3) for i in range(60)), return_exceptions=True
    )  # reads waiting in the lane behind failed ones check a connection out themselves
    assert [isinstance(outcome, Exception) for outcome in mixed] == [i % 3 == 0 for i in range(60)]
    _assert_all_returned(engine)
    reads = [
        asyncio.create_task(accounts._fetch(engine, "SELECT pg_sleep(0.05), $1::int", i)) for i in range(40)
    ]
    await asyncio.sleep(0.02)
    for read in reads[::2]:  # some running, some still waiting in the lane
        read.cancel()
    outcomes = await asyncio.gather(*reads, return_exceptions=True)
    assert all(isinstance(outcome, list) for outcome in outcomes[1::2])
    _assert_all_returned(engine)
    assert (await accounts._fetch(engine, "SELECT 7"))[0][0] == 7


async def test_sessions_are_served_while_the_lane_is_full(
    pg_session_factory: async_sessionmaker[AsyncSession],
) -> None:
    engine = _engine(pg_session_factory)
    reads = [asyncio.create_task(accounts._fetch(engine, "SELECT pg_sleep(0.2)")) for _ in range(50)]
    await asyncio.sleep(0.05)
    async with pg_session_factory() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert not all(read.done() for read in reads)  # the session did not wait for the reads
    await asyncio.gather(*reads)
    _assert_all_returned(engine)
