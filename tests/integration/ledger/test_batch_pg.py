"""Group commit on PostgreSQL: same guarantees as single transfers, many per commit."""

from __future__ import annotations

import asyncio
import random

import pytest

from core.db.session import make_engine
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.batch import TransferBatcher
from core.ledger.models import AccountKind, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money

KES = Asset.KES


async def _accounts(session_factory, count=10, start="500.00"):
    async with session_factory() as session:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        fee = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=KES)
        ids = []
        for customer in range(count):
            wallet = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=KES
            )
            await ledger.post_entry(
                session=session,
                idempotency_key=f"seed-{customer}",
                kind="deposit",
                postings=[
                    PostingRequest(float_account.id, -Money.of(start, KES)),
                    PostingRequest(wallet.id, Money.of(start, KES)),
                ],
            )
            ids.append(wallet.id)
        await session.commit()
    return ids, fee.id


@pytest.fixture
async def batcher(clean_pg_url):
    engine = make_engine(clean_pg_url, pool_size=4)
    batcher = TransferBatcher(engine)
    batcher.start()
    yield batcher
    await batcher.close()
    await engine.dispose()


async def test_concurrent_batched_transfers_conserve_money(pg_session_factory, batcher):
    wallet_ids, fee_id = await _accounts(pg_session_factory)
    results = {"ok": 0, "refused": 0}

    async def client(number):
        rng = random.Random(number)
        for step in range(25):
            source, target = rng.sample(wallet_ids, 2)
            try:
                await batcher.transfer(
                    idempotency_key=f"b-{number}-{step}",
                    from_account_id=source,
                    to_account_id=target,
                    amount=Money.of(f"{rng.randint(1, 20000) / 100:.2f}", KES),
                    fee=Money.of("0.50", KES),
                    fee_account_id=fee_id,
                )
                results["ok"] += 1
            except errors.InsufficientFunds:
                results["refused"] += 1

    await asyncio.gather(*(client(n) for n in range(32)))
    assert results["ok"] + results["refused"] == 800 and results["ok"] > 300
    async with pg_session_factory() as session:
        report = await verify(session=session)
        assert report.ok, report.problems
        balances = [await ledger.balance(session=session, account_id=i) for i in wallet_ids]
        assert all(b >= Money.zero(KES) for b in balances)
        fees = await ledger.balance(session=session, account_id=fee_id)
        assert fees == Money.from_minor(50 * results["ok"], KES)
        total = Money.zero(KES)
        for b in balances:
            total = total + b
        assert total + fees == Money.of("5000.00", KES)


async def test_batched_replay_conflict_and_duplicates_in_one_batch(pg_session_factory, batcher):
    (a, b), _fee_id = await _accounts(pg_session_factory, count=2)
    ten = Money.of("10.00", KES)
    first, same, other = await asyncio.gather(
        batcher.transfer(idempotency_key="dup", from_account_id=a, to_account_id=b, amount=ten),
        batcher.transfer(idempotency_key="dup", from_account_id=a, to_account_id=b, amount=ten),
        batcher.transfer(
            idempotency_key="dup", from_account_id=a, to_account_id=b, amount=Money.of("11", KES)
        ),
        return_exceptions=True,
    )
    assert not first.replayed and same.replayed and same.entry_id == first.entry_id
    assert isinstance(other, errors.IdempotencyConflict)
    later = await batcher.transfer(idempotency_key="dup", from_account_id=a, to_account_id=b, amount=ten)
    assert later.replayed and later.entry_id == first.entry_id
    # the single-transfer path agrees on what "the same content" means
    async with pg_session_factory() as session:
        again = await ledger.transfer(
            session=session, idempotency_key="dup", from_account_id=a, to_account_id=b, amount=ten
        )
        assert again.replayed and again.entry_id == first.entry_id
        assert await ledger.balance(session=session, account_id=b) == Money.of("510.00", KES)
    with pytest.raises(errors.InsufficientFunds):
        await batcher.transfer(
            idempotency_key="big", from_account_id=a, to_account_id=b, amount=Money.of("491", KES)
        )
    with pytest.raises(errors.UnknownAccount):
        await batcher.transfer(idempotency_key="ghost", from_account_id=a, to_account_id=999999, amount=ten)
