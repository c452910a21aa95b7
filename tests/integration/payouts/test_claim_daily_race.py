"""Two claims at once under the shortcode's daily value limit (PostgreSQL, two connections): the
second waits for the first's (shortcode, day) lock and then sums with the first's claim in, so only
one of two payouts whose sum passes the limit is sent; the other waits as `created`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.money import Asset, Money
from core.payments import service
from core.payments.models import Payout
from tests.integration.payouts.harness import funded_wallet

pytestmark = [pytest.mark.postgres]

LIMIT_MINOR = 400_000  # KES 4,000 a day for the shortcode
SHORTCODE = "600000"
# a claim waiting on another's advisory lock, as PostgreSQL sees it
_ADVISORY_WAITS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")


async def _payouts(factory: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    wallet = await funded_wallet(factory, 41, 10_000)
    ids = []
    for key, shillings in (("race-a", 3000), ("race-b", 1500)):  # 4,500 together: over the limit
        async with factory() as session:
            payout = await service.create_payout(
                session=session, idempotency_key=key, account_id=wallet, phone="0712345678",
                amount=Money.of(shillings, Asset.KES), customer_id=41,
            )  # fmt: skip
            await session.commit()
            ids.append(payout.id)
    return ids[0], ids[1]


async def _until_waiting_or_done(factory: async_sessionmaker[AsyncSession], claim: asyncio.Task[Any]) -> None:
    """Return once the second claim waits on an advisory lock; fail if it finished without waiting."""
    for _ in range(600):
        async with factory() as session:
            if (await session.execute(_ADVISORY_WAITS)).scalar_one() > 0:
                return
        if claim.done():
            raise AssertionError(f"the second claim never waited for the first: {claim.result()!r}")
        await asyncio.sleep(0.05)
    raise AssertionError("the second claim neither waited nor finished")


async def _second_claim(
    path: str, factory: async_sessionmaker[AsyncSession], dsn: str, payout_id: str
) -> bool:
    """The second worker's claim, on the job's direct autocommit connection or through a session."""
    if path == "direct":
        connection = await asyncpg.connect(dsn, ssl=False)
        try:
            claimed = await service.claim_at_once(
                connection, payout_id=payout_id, now=datetime.now(UTC),
                shortcode_daily_limit_minor=LIMIT_MINOR, shortcode=SHORTCODE,
            )  # fmt: skip
        finally:
            await connection.close()
        return claimed is not None
    async with factory() as session:
        claim = await service.claim_for_send(
            session=session, payout_id=payout_id, shortcode_daily_limit_minor=LIMIT_MINOR, shortcode=SHORTCODE
        )
        await session.commit()
    return claim.send


@pytest.mark.parametrize("path", ["direct", "session"])
async def test_two_claims_at_once_pass_the_daily_value_once(
    pg_session_factory: async_sessionmaker[AsyncSession], clean_pg_url: str, path: str
) -> None:
    first, second = await _payouts(pg_session_factory)
    dsn = clean_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    async with pg_session_factory() as holder:
        claim = await service.claim_for_send(
            session=holder, payout_id=first, shortcode_daily_limit_minor=LIMIT_MINOR, shortcode=SHORTCODE
        )
        assert claim.send  # claimed, not committed yet: the second claim starts now
        racing = asyncio.create_task(_second_claim(path, pg_session_factory, dsn, second))
        await _until_waiting_or_done(pg_session_factory, racing)
        await holder.commit()
    assert await racing is False
    async with pg_session_factory() as session:
        rows = dict((await session.execute(select(Payout.id, Payout.status))).tuples().all())
        waiting = await service.get_payout(session=session, payout_id=second)
    assert rows == {first: "submitted", second: "created"}
    assert waiting.attempts == 0 and waiting.submitted_at is None


async def test_claims_of_another_day_or_shortcode_do_not_wait() -> None:
    """The lock is per (shortcode, Nairobi day): a claim after midnight in Nairobi, or for another
    shortcode, takes another lock."""
    before = datetime(2026, 12, 5, 20, 59, tzinfo=UTC)  # 23:59 in Nairobi
    after = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)  # 00:00 the next day
    same = service._daily_lock_keys(SHORTCODE, before)
    assert service._daily_lock_keys(SHORTCODE, datetime(2026, 12, 5, 0, 0, tzinfo=UTC)) == same
    assert service._daily_lock_keys(SHORTCODE, after)[0] == same[0]
    assert service._daily_lock_keys(SHORTCODE, after)[1] == same[1] + 1
    assert service._daily_lock_keys("600001", before)[0] != same[0]
    assert all(-(2**31) <= key < 2**31 for key in same)


async def test_a_claim_left_open_by_an_abandoned_job_gives_its_lock_up(
    pg_session_factory: async_sessionmaker[AsyncSession], clean_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job interrupted inside its claim's transaction (its event loop abandoned, the connection
    left open) would hold the (shortcode, day) lock: the server ends that transaction once idle for
    CLAIM_IDLE_TIMEOUT, and the next claim goes through."""
    monkeypatch.setattr(service, "CLAIM_IDLE_TIMEOUT", "1s")
    first, _ = await _payouts(pg_session_factory)
    dsn = clean_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    abandoned, claimer = await asyncpg.connect(dsn, ssl=False), await asyncpg.connect(dsn, ssl=False)
    try:
        now = datetime.now(UTC)
        await abandoned.execute("BEGIN")
        await abandoned.execute(service._DAILY_LOCK_SQL, *service._daily_lock_arguments(SHORTCODE, now))
        claim = service.claim_at_once(
            claimer, payout_id=first, now=now, shortcode_daily_limit_minor=LIMIT_MINOR, shortcode=SHORTCODE
        )
        # a bound on a wait that never ends without the timeout, not a measure of it
        claimed = await asyncio.wait_for(claim, timeout=60)
    finally:
        await claimer.close()
        abandoned.terminate()
    assert claimed is not None and claimed.id == first
