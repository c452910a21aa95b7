"""Run a unit of work in one transaction, retrying what PostgreSQL asks to be retried.

Deadlocks (40P01) and serialization failures (40001) never reach the caller: the whole unit is
run again in a new transaction. Money writes inside are idempotent, so a retry is safe.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40P01", "40001"}
MAX_ATTEMPTS = 8


def _retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, OperationalError) and "database is locked" in str(exc):
        return True  # SQLite writer contention
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES


async def in_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run `work(session)` and commit; retry the whole unit on deadlock or serialization failure."""
    for attempt in range(1, attempts + 1):
        async with session_factory() as session:
            try:
                result = await work(session)
                await session.commit()
                return result
            except DBAPIError as exc:
                await session.rollback()
                if attempt == attempts or not _retryable(exc):
                    raise
        await asyncio.sleep(random.uniform(0, 0.01 * attempt))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")
