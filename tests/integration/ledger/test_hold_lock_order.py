"""Resolving holds takes row locks in account id order, so it cannot deadlock with a transfer
between the same wallets; and the books refuse TRUNCATE (ledger_0007).

Posting (ledger_0006): the hold is on the higher wallet and is posted into the lower one. A transfer
holds the lower wallet's row and, once the hold's posting waits on it, moves money into the higher
wallet: before, the hold's posting already held the higher wallet's row (its `pending_out`), and
PostgreSQL killed one of the two as a deadlock. Expiring (`expire_holds`): the holds are voided in
account id order, not in the order they were placed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import Account, AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from tests.integration.ledger.pg_locks import until_a_backend_waits_on_a_lock

KES = Asset.KES


def kes(value: str) -> Money:
    return Money.of(value, KES)


async def _funded_wallets(session) -> tuple[Account, Account, Account]:
    """The float account and two customer wallets (the lower id first), KES 100 each."""
    float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
    lower, higher = [
        await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer, asset=KES
        )
        for customer in (1, 2)
    ]
    assert lower.id < higher.id
    for wallet in (lower, higher):
        await ledger.transfer(
            session=session, idempotency_key=f"fund-{wallet.id}", from_account_id=float_account.id,
            to_account_id=wallet.id, amount=kes("100.00"), kind="deposit",
        )  # fmt: skip
    return float_account, lower, higher


async def _holding_the_lower_wallet(factory, lower: Account, float_account: Account) -> AsyncSession:
    """A unit of work left open holding the lower wallet's row (until it commits)."""
    transfer = factory()
    await ledger.transfer(
        session=transfer, idempotency_key="out-of-lower", from_account_id=lower.id,
        to_account_id=float_account.id, amount=kes("5.00"), kind="withdrawal",
    )  # fmt: skip
    return transfer


async def test_posting_a_hold_into_a_lower_wallet_does_not_deadlock_with_a_transfer(clean_pg_url):
    engine = make_engine(clean_pg_url)
    factory = make_session_factory(engine)
    async with factory() as session:
        float_account, lower, higher = await _funded_wallets(session)
        hold = await ledger.place_hold(
            session=session, idempotency_key="escrow", account_id=higher.id, amount=kes("30.00")
        )
        await session.commit()
    transfer = await _holding_the_lower_wallet(factory, lower, float_account)

    async def post_the_hold() -> None:
        async with factory() as session:
            await ledger.post_hold(
                session=session, hold_id=hold.hold_id, idempotency_key="escrow-released",
                postings=[PostingRequest(lower.id, kes("30.00"))],
            )  # fmt: skip
            await session.commit()

    posting = asyncio.create_task(post_the_hold())
    await until_a_backend_waits_on_a_lock(factory, "the hold's posting")
    await ledger.transfer(  # now the higher wallet's row: free, since the posting waits first
        session=transfer, idempotency_key="into-higher", from_account_id=float_account.id,
        to_account_id=higher.id, amount=kes("7.00"), kind="deposit",
    )  # fmt: skip
    await transfer.commit()
    await transfer.close()
    await asyncio.wait_for(posting, timeout=60)

    async with factory() as session:
        assert await ledger.balance(session=session, account_id=lower.id) == kes("125.00")
        assert await ledger.balance(session=session, account_id=higher.id) == kes("77.00")
        assert (await verify(session=session)).ok
    await engine.dispose()


async def test_expiring_holds_on_two_wallets_does_not_deadlock_with_a_transfer(clean_pg_url):
    """The hold on the higher wallet is older, so it came first; expiring now goes in account id order."""
    engine = make_engine(clean_pg_url)
    factory = make_session_factory(engine)
    placed = datetime(2026, 1, 1, tzinfo=UTC)
    async with factory() as session:
        float_account, lower, higher = await _funded_wallets(session)
        for wallet in (higher, lower):  # the higher wallet's hold first
            await ledger.place_hold(
                session=session, idempotency_key=f"hold-{wallet.id}", account_id=wallet.id,
                amount=kes("20.00"), expires_at=placed + timedelta(minutes=5),
            )  # fmt: skip
        await session.commit()
    transfer = await _holding_the_lower_wallet(factory, lower, float_account)

    async def expire() -> int:
        async with factory() as session:
            expired = await ledger.expire_holds(session=session, now=placed + timedelta(hours=1))
            await session.commit()
            return expired

    expiring = asyncio.create_task(expire())
    await until_a_backend_waits_on_a_lock(factory, "expiring the holds")
    await ledger.transfer(  # now the higher wallet's row: free, since the expiry waits first
        session=transfer, idempotency_key="into-higher", from_account_id=float_account.id,
        to_account_id=higher.id, amount=kes("7.00"), kind="deposit",
    )  # fmt: skip
    await transfer.commit()
    await transfer.close()
    assert await asyncio.wait_for(expiring, timeout=60) == 2

    async with factory() as session:
        assert await ledger.available(session=session, account_id=lower.id) == kes("95.00")
        assert await ledger.available(session=session, account_id=higher.id) == kes("107.00")
        assert (await verify(session=session)).ok
    await engine.dispose()


async def test_the_books_refuse_truncate(clean_pg_url):
    engine = make_engine(clean_pg_url)
    for table in ("ledger_accounts", "ledger_entries", "ledger_postings"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="never truncated"):
                await connection.execute(text(f"TRUNCATE {table} CASCADE"))
    await engine.dispose()
