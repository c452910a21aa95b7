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


class _Counted:
    """A real asyncpg connection that counts what the claim sends through it."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.calls: list[str] = []

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self.calls.append("fetchrow")
        return await self.connection.fetchrow(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        self.calls.append("execute")
        return await self.connection.execute(query, *args)

    def transaction(self) -> Any:
        self.calls.append("transaction")
        return self.connection.transaction()


# the advisory locks a backend holds or waits for, and whether it is inside a transaction
_HELD = """
SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1) AS locks,
       (SELECT state FROM pg_stat_activity WHERE pid = $1) AS state
"""


async def test_the_fast_claim_is_one_statement_and_leaves_no_lock_held(
    pg_session_factory: async_sessionmaker[AsyncSession], clean_pg_url: str
) -> None:
    """Under the daily value limit the fast claim is one autocommitted statement: the lock is taken
    and released inside it, so a claimant that stalls after sending it (a frozen worker, a half-open
    connection, a job abandoned by RQ's timeout) holds nothing. Its connection is idle, no advisory
    lock held, and another claim on the shortcode goes through at once. (It was BEGIN, lock, claim,
    COMMIT: a claimant stalled between them held every claim of the shortcode back.)"""
    first, second = await _payouts(pg_session_factory)
    dsn = clean_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    claimant, other, watch = [await asyncpg.connect(dsn, ssl=False) for _ in range(3)]
    try:
        counted = _Counted(claimant)
        claimed = await service.claim_at_once(
            counted, payout_id=first, now=datetime.now(UTC), shortcode_daily_limit_minor=LIMIT_MINOR,
            shortcode=SHORTCODE,
        )  # fmt: skip
        assert claimed is not None and claimed.id == first and claimed.submitted_at is not None
        assert counted.calls == ["fetchrow"]  # one round trip, no transaction block
        # the claimant now stalls (never sends another byte): it holds no lock
        held = await watch.fetchrow(_HELD, claimant.get_server_pid())
        assert (held["locks"], held["state"]) == (0, "idle"), dict(held)
        # the next claim takes the lock without waiting (lock_timeout: an error, not a hang), and
        # sums with the first claim in: 3,000 + 1,500 is over the limit, so it waits as `created`
        await other.execute("SET lock_timeout = '5s'")
        assert await service.claim_at_once(
            other, payout_id=second, now=datetime.now(UTC), shortcode_daily_limit_minor=LIMIT_MINOR,
            shortcode=SHORTCODE,
        ) is None  # fmt: skip
    finally:
        for connection in (claimant, other, watch):
            await connection.close()


async def test_a_session_claim_left_open_by_an_abandoned_job_gives_its_lock_up(
    pg_session_factory: async_sessionmaker[AsyncSession], clean_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session way's claim (claim_for_send: the fallback when the fast claim does not match)
    holds the (shortcode, day) lock until the caller's commit, and the fast claim waits for it: it
    must, to sum with that claim in. A job interrupted inside that transaction (its event loop
    abandoned, the connection left open) would hold the lock: the server ends the transaction once
    idle for CLAIM_IDLE_TIMEOUT (15 s; 1 s here), its claim rolls back, and the fast claim goes
    through."""
    monkeypatch.setattr(service, "CLAIM_IDLE_TIMEOUT", "1s")
    first, second = await _payouts(pg_session_factory)
    dsn = clean_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    abandoned, claimer = await asyncpg.connect(dsn, ssl=False), await asyncpg.connect(dsn, ssl=False)
    try:
        now = datetime.now(UTC)
        await abandoned.execute("BEGIN")
        session_claim = service._claim_arguments(second, now, LIMIT_MINOR, SHORTCODE, held=True)
        assert await abandoned.fetchrow(service._CLAIM_SQL, *session_claim) is not None
        claim = service.claim_at_once(
            claimer, payout_id=first, now=now, shortcode_daily_limit_minor=LIMIT_MINOR, shortcode=SHORTCODE
        )
        # a bound on a wait that never ends without the timeout, not a measure of it
        claimed = await asyncio.wait_for(claim, timeout=60)
    finally:
        await claimer.close()
        abandoned.terminate()
    assert claimed is not None and claimed.id == first
    async with pg_session_factory() as session:
        assert (await service.get_payout(session=session, payout_id=second)).status == "created"
