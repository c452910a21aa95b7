from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import service as audit

Factory = async_sessionmaker[AsyncSession]
COLUMNS = "seq, occurred_at, actor, action, subject, details, prev_hash, entry_hash"


async def seed(factory: Factory, n: int = 5) -> audit.Verification:
    async with factory() as session:
        for i in range(n):
            await audit.record(
                session=session,
                actor="staff:1",
                action="config.changed",
                subject=f"limit:{i}",
                details={"new": str(i), "pin": "4821"},
            )
        await session.commit()
        result = await audit.verify(session=session)
    assert result.ok and result.checked == n
    return result


async def tamper(factory: Factory, sql: str) -> None:
    async with factory() as session:
        await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await session.execute(text(sql))
        await session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        await session.commit()


async def verify(factory: Factory, head: tuple[int, str] | None = None) -> audit.Verification:
    async with factory() as session:
        return await audit.verify(session=session, expected_head=head)


async def test_secrets_never_stored_in_details(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory, 1)
    async with pg_session_factory() as session:
        raw = (await session.execute(text("SELECT details::text FROM audit_log"))).scalar_one()
    assert "4821" not in raw


async def test_append_only_trigger_refuses_update_and_delete(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory, 2)
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        async with pg_session_factory() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(sql))


async def test_edit_detected(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory)
    await tamper(pg_session_factory, "UPDATE audit_log SET subject = 'limit:999' WHERE seq = 3")
    result = await verify(pg_session_factory)
    assert not result.ok and any("seq 3" in p and "edited" in p for p in result.problems)


async def test_delete_detected(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory)
    await tamper(pg_session_factory, "DELETE FROM audit_log WHERE seq = 2")
    result = await verify(pg_session_factory)
    assert not result.ok and any("missing" in p for p in result.problems)


async def test_insert_detected(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory)
    await tamper(
        pg_session_factory,
        f"INSERT INTO audit_log ({COLUMNS}) SELECT 99, {COLUMNS[5:]} FROM audit_log WHERE seq = 5",
    )
    result = await verify(pg_session_factory)
    assert not result.ok


async def test_renumbered_insert_detected(pg_session_factory: Factory) -> None:
    await seed(pg_session_factory)
    await tamper(pg_session_factory, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
    await tamper(pg_session_factory, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    await tamper(
        pg_session_factory,
        f"INSERT INTO audit_log ({COLUMNS}) SELECT 3, {COLUMNS[5:]} FROM audit_log WHERE seq = 2",
    )
    assert not (await verify(pg_session_factory)).ok


async def test_truncation_detected_with_known_head(pg_session_factory: Factory) -> None:
    before = await seed(pg_session_factory)
    await tamper(pg_session_factory, "DELETE FROM audit_log WHERE seq = 5")
    assert (await verify(pg_session_factory)).ok  # a chain alone cannot see its tail removed ...
    result = await verify(pg_session_factory, head=(before.head_seq, before.head_hash))
    assert not result.ok  # ... but the recorded head can


async def test_chain_works_on_both_databases(session_factory: Factory) -> None:
    await seed(session_factory, 3)
