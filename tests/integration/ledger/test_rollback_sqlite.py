"""A rolled-back transaction undoes ledger writes on SQLite too (savepoints inside a transaction
that began with a SELECT used to be committed by the driver when released)."""

from __future__ import annotations

from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money


async def test_outer_rollback_undoes_savepointed_ledger_writes(session_factory):
    kes = Money.of("50", Asset.KES)
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=Asset.KES
        )
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES)
        await session.commit()
    async with session_factory() as session:
        await ledger.balance(session=session, account_id=wallet.id)  # the transaction begins with a SELECT
        await ledger.post_entry(
            session=session,
            idempotency_key="rolled-back",
            kind="deposit",
            postings=[PostingRequest(source.id, -kes), PostingRequest(wallet.id, kes)],
        )
        await ledger.place_hold(session=session, idempotency_key="hold", account_id=wallet.id, amount=kes)
        await session.rollback()
    async with session_factory() as session:
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.zero(Asset.KES)
        assert await ledger.available(session=session, account_id=wallet.id) == Money.zero(Asset.KES)
