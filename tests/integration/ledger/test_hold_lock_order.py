"""Posting a hold takes its row locks in account id order (ledger_0006), so it cannot deadlock with
a transfer between the same wallets.

The hold is on the higher wallet and is posted into the lower one. A transfer holds the lower
wallet's row and, once the hold's posting waits on it, moves money into the higher wallet: before,
the hold's posting already held the higher wallet's row (its `pending_out`), and PostgreSQL killed
one of the two as a deadlock."""

from __future__ import annotations

import asyncio

from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from tests.integration.ledger.pg_locks import until_a_backend_waits_on_a_lock

KES = Asset.KES


def kes(value: str) -> Money:
    return Money.of(value, KES)


async def test_posting_a_hold_into_a_lower_wallet_does_not_deadlock_with_a_transfer(clean_pg_url):
    engine = make_engine(clean_pg_url)
    factory = make_session_factory(engine)
    async with factory() as session:
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
        hold = await ledger.place_hold(
            session=session, idempotency_key="escrow", account_id=higher.id, amount=kes("30.00")
        )
        await session.commit()

    transfer = factory()
    await ledger.transfer(  # holds the lower wallet's row until it commits
        session=transfer, idempotency_key="out-of-lower", from_account_id=lower.id,
        to_account_id=float_account.id, amount=kes("5.00"), kind="withdrawal",
    )  # fmt: skip

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
