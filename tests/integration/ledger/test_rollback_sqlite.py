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


async def test_a_rolled_back_savepoint_undoes_its_ledger_write_and_keeps_the_outer_ones(session_factory):
    """On PostgreSQL the posting runs on the session's own connection: inside a savepoint it is the
    savepoint's, after ORM reads it is the reads' transaction (found without a greenlet hop)."""
    kes = Money.of("50", Asset.KES)
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=Asset.KES
        )
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES)
        await session.commit()
    legs = [PostingRequest(source.id, -kes), PostingRequest(wallet.id, kes)]
    async with session_factory() as session:
        await ledger.balance(session=session, account_id=wallet.id)  # the transaction begins with a SELECT
        kept = await ledger.post_entry(session=session, idempotency_key="kept", kind="deposit", postings=legs)
        savepoint = await session.begin_nested()
        await ledger.post_entry(session=session, idempotency_key="undone", kind="deposit", postings=legs)
        await savepoint.rollback()
        after = await ledger.post_entry(
            session=session, idempotency_key="after", kind="deposit", postings=legs
        )
        await session.commit()
    async with session_factory() as session:
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.of("100", Asset.KES)
        replayed = await ledger.post_entry(
            session=session, idempotency_key="kept", kind="deposit", postings=legs
        )
        assert replayed.replayed and replayed.entry_id == kept.entry_id
        undone = await ledger.post_entry(
            session=session, idempotency_key="undone", kind="deposit", postings=legs
        )
        assert not undone.replayed and undone.entry_id > after.entry_id
        await session.rollback()
