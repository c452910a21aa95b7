"""payments_0006's and payouts_0002's indexes are built CONCURRENTLY on PostgreSQL: migrating while a
worker's transaction is open, the build waits for it instead of locking the table, and a worker's
write to the table goes through meanwhile (a plain CREATE INDEX queues every later write behind its
SHARE lock). Then downgrade and upgrade again. A private database: the session's stays at head."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic import command

from tests.conftest import PG_ADMIN_DSN
from webapp.schema import alembic_config, upgrade

pytestmark = [pytest.mark.postgres]

# a backend of this database waiting on a lock: (pid, what it runs)
_LOCK_WAITS = """
SELECT pid, query FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
"""
_VALID = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)"


@pytest.fixture
async def private_db() -> AsyncIterator[tuple[str, str]]:
    """A migrated database of its own: (SQLAlchemy URL, asyncpg DSN)."""
    name = f"kibeti_t_h2_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    try:
        await asyncio.to_thread(upgrade, url)
        yield url, dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _until_waiting(watch: asyncpg.Connection, work: asyncio.Future[Any], what: str) -> str:
    """The query of the backend waiting on a lock; fails if `work` ended without ever waiting."""
    for _ in range(1200):
        waiting = await watch.fetch(_LOCK_WAITS)
        if waiting:
            return str(waiting[0]["query"])
        if work.done():
            work.result()
            raise AssertionError(f"{what} never waited")
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} neither waited nor ended")


async def _write_goes_through(watch: asyncpg.Connection, writer: asyncpg.Connection, table: str) -> None:
    """A worker's write to `table` (a row-exclusive lock, as an INSERT or UPDATE takes) is done
    without ever waiting on a lock."""
    pid = writer.get_server_pid()
    write = asyncio.ensure_future(writer.execute(f"DELETE FROM {table} WHERE false"))
    while not write.done():
        blocked = await watch.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", pid
        )
        if blocked:
            write.cancel()
            raise AssertionError(f"a write to {table} waited behind the index build")
        await asyncio.sleep(0.02)
    await write


@pytest.mark.parametrize(
    ("before", "target", "table", "index"),
    [
        ("payments_0005", "payments_0006", "payouts", "ix_payouts_submitted_at"),
        ("payouts_0001", "payouts_0002", "mpesa_api_calls", "ix_mpesa_api_calls_call_id"),
    ],
)
async def test_the_index_is_built_without_blocking_writes(
    private_db: tuple[str, str], before: str, target: str, table: str, index: str
) -> None:
    url, dsn = private_db
    config = alembic_config(url)
    await asyncio.to_thread(command.downgrade, config, before)
    worker, writer, watch = [await asyncpg.connect(dsn, ssl=False) for _ in range(3)]
    try:
        assert await watch.fetchval(_VALID, index) is None
        # a worker's transaction, open across the migration: it wrote to payouts (its lock) and
        # holds a snapshot; nothing of it touches mpesa_api_calls
        open_transaction = worker.transaction(isolation="repeatable_read")
        await open_transaction.start()
        await worker.execute("DELETE FROM payouts WHERE false")
        migrating = asyncio.ensure_future(asyncio.to_thread(upgrade, url, target))
        query = await _until_waiting(watch, migrating, "the index build")
        await _write_goes_through(watch, writer, table)
        assert "CONCURRENTLY" in query.upper() and index in query, query
        await open_transaction.commit()
        await migrating
        assert await watch.fetchval(_VALID, index) is True
        await asyncio.to_thread(command.downgrade, config, before)  # dropped CONCURRENTLY
        assert await watch.fetchval(_VALID, index) is None
        await asyncio.to_thread(upgrade, url)
        assert await watch.fetchval(_VALID, index) is True
    finally:
        for connection in (worker, writer, watch):
            await connection.close()


async def test_a_cancelled_build_of_the_call_id_index_is_retried_by_upgrading_again(
    private_db: tuple[str, str],
) -> None:
    """payouts_0002's column is committed before its index is built (CONCURRENTLY needs its own
    transactions) while alembic_version stays at payouts_0001 until the build is done: a build that
    is cancelled (or fails) leaves the column, and `kibeti db upgrade` run again goes on from there
    (it failed with DuplicateColumnError: ADD COLUMN without IF NOT EXISTS)."""
    url, dsn = private_db
    config = alembic_config(url)
    await asyncio.to_thread(command.downgrade, config, "payouts_0001")
    worker, watch = [await asyncpg.connect(dsn, ssl=False) for _ in range(2)]
    index = "ix_mpesa_api_calls_call_id"
    try:
        # a worker's transaction holding a snapshot: the build waits for it
        open_transaction = worker.transaction(isolation="repeatable_read")
        await open_transaction.start()
        await worker.execute("DELETE FROM payouts WHERE false")
        migrating = asyncio.ensure_future(asyncio.to_thread(upgrade, url, "payouts_0002"))
        query = await _until_waiting(watch, migrating, "the index build")
        assert "CONCURRENTLY" in query.upper() and index in query, query
        [build] = await watch.fetch(_LOCK_WAITS)
        assert await watch.fetchval("SELECT pg_cancel_backend($1)", build["pid"])
        with pytest.raises(Exception, match="cancel"):
            await migrating
        await open_transaction.commit()
        # the column committed, the index left invalid, the version not moved
        assert await watch.fetchval(_VALID, index) is False
        versions = {
            row["version_num"] for row in await watch.fetch("SELECT version_num FROM alembic_version")
        }
        assert "payouts_0001" in versions and "payouts_0002" not in versions, versions
        column = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'mpesa_api_calls' AND column_name = 'call_id'"
        assert await watch.fetchval(column) == 1
        await asyncio.to_thread(upgrade, url)  # run again: goes on from there
        assert await watch.fetchval(_VALID, index) is True
        versions = {
            row["version_num"] for row in await watch.fetch("SELECT version_num FROM alembic_version")
        }
        assert "payouts_0002" in versions, versions
        assert await watch.fetchval(column) == 1
    finally:
        for connection in (worker, watch):
            await connection.close()
