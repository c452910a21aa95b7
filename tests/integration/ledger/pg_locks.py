"""Synchronising a race on PostgreSQL's own view of it, not on time."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def until_a_backend_waits_on_a_lock(factory: async_sessionmaker[AsyncSession], what: str) -> None:
    """Return once a backend of this database waits on a lock; fail (saying `what` never waited)
    if none does within a minute."""
    for _ in range(600):
        async with factory() as session:
            if (await session.execute(WAITING)).scalar_one() > 0:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never waited on a row lock")
