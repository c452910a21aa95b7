"""50 concurrent tasks moving money among 10 accounts and one shared fee account, on both databases.

Each transfer is a unit of work the way the flows run one (core/flows: a session from the factory,
ledger.transfer, commit), with no retry: sorted row locking means no deadlock to retry."""

from __future__ import annotations

import asyncio
import contextlib
import random

from core.db.session import make_engine, make_session_factory
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money

KES = Asset.KES
START = Money.of("1000.00", KES)


async def test_fifty_concurrent_transfers_lose_nothing(pg_session_factory):
    await _fifty_way(pg_session_factory, contextlib.nullcontext)


async def test_fifty_concurrent_transfers_lose_nothing_on_sqlite(sqlite_url):
    """SQLite has one writer at a time (BEGIN IMMEDIATE, 5 s busy timeout): 50 units of work each
    waiting on its lock time out, so the tasks hold at most 5 sessions open at once (as many as a
    pool of 5 would); their units still interleave."""
    engine = make_engine(sqlite_url)
    try:
        factory = make_session_factory(engine)
        sessions = asyncio.Semaphore(5)
        await _fifty_way(factory, lambda: sessions)
    finally:
        await engine.dispose()


async def _fifty_way(session_factory, gate) -> None:
    async def setup(session):
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        fee = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=KES)
        ids = []
        for customer in range(10):
            wallet = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=KES
            )
            await ledger.post_entry(
                session=session,
                idempotency_key=f"seed-{customer}",
                kind="deposit",
                postings=[PostingRequest(float_account.id, -START), PostingRequest(wallet.id, START)],
            )
            ids.append(wallet.id)
        return ids, fee.id

    async with session_factory() as session:
        wallet_ids, fee_id = await setup(session)
        await session.commit()
    refused = 0
    done = 0

    async def worker(task: int) -> None:
        nonlocal refused, done
        rng = random.Random(task)
        for step in range(20):
            source, target = rng.sample(wallet_ids, 2)
            amount = Money.of(f"{rng.randint(1, 30000) / 100:.2f}", KES)

            async def move(session, source=source, target=target, amount=amount, step=step):
                return await ledger.transfer(
                    session=session,
                    idempotency_key=f"t-{task}-{step}",
                    from_account_id=source,
                    to_account_id=target,
                    amount=amount,
                    fee=Money.of("1.00", KES),
                    fee_account_id=fee_id,
                )

            async with gate(), session_factory() as session:
                try:
                    await move(session)
                    await session.commit()
                    done += 1
                except errors.InsufficientFunds:
                    refused += 1

    await asyncio.gather(*(worker(task) for task in range(50)))
    assert done + refused == 1000
    assert done > 500  # most transfers must go through, or the test proves nothing

    async with session_factory() as session:
        report = await verify(session=session)
        assert report.ok, report.problems
        total = Money.zero(KES)
        for wallet_id in wallet_ids:
            balance = await ledger.balance(session=session, account_id=wallet_id)
            assert balance >= Money.zero(KES)
            total = total + balance
        fees = await ledger.balance(session=session, account_id=fee_id)
        # conservation: what the customers hold plus the fees is exactly what was deposited
        assert total + fees == Money.of("10000.00", KES)
        assert fees == Money.of(f"{done}.00", KES)
