"""The embedded SQLite database: a unit of work that finds the write lock held by another writer
takes it again after a pause (BEGIN IMMEDIATE is its first statement, nothing is done yet) instead
of failing with "database is locked"; when the lock never frees it fails with DatabaseBusy, a clear
message, having written nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import session as db_session
from core.db.session import DatabaseBusy, make_engine, make_session_factory


@pytest.fixture
def other_writer(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite3.Connection]:
    """Another process holding SQLite's write lock; our busy timeout 0 (no wait inside SQLite)."""
    monkeypatch.setattr(db_session, "SQLITE_BUSY_TIMEOUT_SECONDS", 0)
    holder = sqlite3.connect(str(make_url(sqlite_url).database), isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE IF NOT EXISTS lock_probe (n INTEGER)")
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


async def _connected(url: str) -> AsyncEngine:
    """An engine whose pooled connection is open (its PRAGMAs set) before the other writer locks."""
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return engine


async def test_a_writer_that_finds_the_lock_taken_retries_and_commits(
    sqlite_url: str, other_writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:  # the other writer commits while we wait
        pauses.append(seconds)
        if len(pauses) == 2:
            other_writer.execute("COMMIT")

    monkeypatch.setattr(db_session.asyncio, "sleep", pause)
    engine = await _connected(sqlite_url)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        async with make_session_factory(engine)() as session, session.begin():
            await session.execute(text("INSERT INTO lock_probe (n) VALUES (1)"))
        async with make_session_factory(engine)() as session:
            assert (await session.execute(text("SELECT count(*) FROM lock_probe"))).scalar_one() == 1
    finally:
        await engine.dispose()
    assert pauses == list(db_session.SQLITE_LOCK_RETRY_DELAYS[:2])  # two refusals, then the lock


async def test_a_lock_that_never_frees_fails_clearly_having_written_nothing(
    sqlite_url: str, other_writer: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(db_session.asyncio, "sleep", pause)
    engine = await _connected(sqlite_url)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseBusy, match="stayed locked by other writers"):
            async with make_session_factory(engine)() as session, session.begin():
                await session.execute(text("INSERT INTO lock_probe (n) VALUES (1)"))
        other_writer.execute("COMMIT")
        async with make_session_factory(engine)() as session:  # the connection is fine afterwards
            assert (await session.execute(text("SELECT count(*) FROM lock_probe"))).scalar_one() == 0
    finally:
        await engine.dispose()
    assert pauses == list(db_session.SQLITE_LOCK_RETRY_DELAYS)
