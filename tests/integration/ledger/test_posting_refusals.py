"""A posting refused after part of it was applied leaves nothing behind, on both databases.

PostgreSQL's ledger_post_entry moves each constrained account in id order with one conditional
UPDATE; when a later account refuses (not enough, closed), the earlier moves are put back before it
answers. Two units of work racing on one key: the loser waits on the winner's row locks, finds the
key taken and answers with the winner's entry, money moved once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import Account, AccountKind, JournalEntry, OwnerType, Posting, PostingRequest
from core.money import Asset, Money
from tests.integration.ledger.pg_locks import until_a_backend_waits_on_a_lock

KES = Asset.KES


def kes(value: str) -> Money:
    return Money.of(value, KES)


async def _wallet(session, customer_id: int, funded: str | None = None) -> Account:
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=KES
    )
    if funded is not None:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        await ledger.post_entry(
            session=session,
            idempotency_key=f"fund-{customer_id}",
            kind="deposit",
            postings=[
                PostingRequest(float_account.id, -kes(funded)),
                PostingRequest(wallet.id, kes(funded)),
            ],
        )
    return wallet


async def _counts(session) -> tuple[int, int]:
    entries = (await session.execute(select(func.count(JournalEntry.id)))).scalar_one()
    postings = (await session.execute(select(func.count(Posting.id)))).scalar_one()
    return entries, postings


async def test_credit_to_a_lower_account_is_put_back_when_the_debit_is_refused(session_factory):
    async with session_factory() as session:
        receiver = await _wallet(session, 1, funded="5.00")  # opened first: the lower id, moved first
        payer = await _wallet(session, 2, funded="10.00")
        assert receiver.id < payer.id
        before = await _counts(session)
        with pytest.raises(errors.InsufficientFunds, match=str(payer.id)):
            await ledger.transfer(
                session=session,
                idempotency_key="over",
                from_account_id=payer.id,
                to_account_id=receiver.id,
                amount=kes("10.01"),
            )
        await session.commit()
        assert await _counts(session) == before
        assert await ledger.balance(session=session, account_id=receiver.id) == kes("5.00")
        assert await ledger.balance(session=session, account_id=payer.id) == kes("10.00")
        # the refused key is free, and the balances are whole for a valid posting
        posted = await ledger.transfer(
            session=session,
            idempotency_key="over",
            from_account_id=payer.id,
            to_account_id=receiver.id,
            amount=kes("10.00"),
        )
        await session.commit()
        assert not posted.replayed
        assert await ledger.balance(session=session, account_id=receiver.id) == kes("15.00")
        assert await ledger.balance(session=session, account_id=payer.id) == kes("0.00")


async def test_a_closed_account_after_a_moved_one_refuses_and_puts_back(session_factory):
    async with session_factory() as session:
        payer = await _wallet(session, 1, funded="10.00")  # the lower id: debited first
        closed = await _wallet(session, 2)
        await ledger.close_account(session=session, account_id=closed.id)
        before = await _counts(session)
        with pytest.raises(errors.AccountClosed):
            await ledger.transfer(
                session=session,
                idempotency_key="to-closed",
                from_account_id=payer.id,
                to_account_id=closed.id,
                amount=kes("1.00"),
            )
        await session.commit()
        assert await _counts(session) == before
        assert await ledger.balance(session=session, account_id=payer.id) == kes("10.00")


async def test_held_funds_refuse_a_later_debit_and_the_earlier_moves_are_put_back(session_factory):
    async with session_factory() as session:
        receiver = await _wallet(session, 1, funded="1.00")
        payer = await _wallet(session, 2, funded="10.00")
        await ledger.place_hold(session=session, idempotency_key="h", account_id=payer.id, amount=kes("6.00"))
        with pytest.raises(errors.InsufficientFunds):
            await ledger.transfer(
                session=session,
                idempotency_key="past-the-hold",
                from_account_id=payer.id,
                to_account_id=receiver.id,
                amount=kes("4.01"),
            )
        await session.commit()
        assert await ledger.balance(session=session, account_id=receiver.id) == kes("1.00")
        assert await ledger.available(session=session, account_id=payer.id) == kes("4.00")


async def test_two_units_racing_on_one_key_move_money_once(pg_session_factory):
    async with pg_session_factory() as session:
        payer = await _wallet(session, 1, funded="100.00")
        receiver = await _wallet(session, 2)
        await session.commit()

    def send(session):
        return ledger.transfer(
            session=session,
            idempotency_key="raced",
            from_account_id=payer.id,
            to_account_id=receiver.id,
            amount=kes("30.00"),
        )

    async with pg_session_factory() as first, pg_session_factory() as second:
        won = await send(first)  # holds both rows until it commits
        racing = asyncio.create_task(send(second))
        await until_a_backend_waits_on_a_lock(
            pg_session_factory, "the racing unit of work"
        )  # the second, on the first's rows
        assert not racing.done()
        await first.commit()
        lost = await racing
        await second.commit()
    assert not won.replayed and lost.replayed and lost.entry_id == won.entry_id
    async with pg_session_factory() as session:
        assert await ledger.balance(session=session, account_id=payer.id) == kes("70.00")
        assert await ledger.balance(session=session, account_id=receiver.id) == kes("30.00")
        entries = await session.execute(
            select(func.count(JournalEntry.id)).where(JournalEntry.idempotency_key == "raced")
        )
        assert entries.scalar_one() == 1
