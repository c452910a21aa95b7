"""Ledger rules on both databases: balancing, constraints, idempotency, holds, nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry, OwnerType, PostingRequest
from core.money import Asset, Money

KES = Asset.KES


def kes(value: str) -> Money:
    return Money.of(value, KES)


async def _funded(session, customer_id: int, amount: str = "1000.00"):
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=KES
    )
    float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
    await ledger.post_entry(
        session=session,
        idempotency_key=f"fund-{customer_id}",
        kind="deposit",
        postings=[PostingRequest(float_account.id, -kes(amount)), PostingRequest(wallet.id, kes(amount))],
    )
    return wallet


async def test_transfer_moves_money_and_fee(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1)
        bob = await ledger.get_or_open_account(session=session, owner_type="customer", owner_id=2, asset=KES)
        fees = await ledger.system_account(session=session, kind="fee_revenue", asset=KES)
        await ledger.transfer(
            session=session,
            idempotency_key="t1",
            from_account_id=alice.id,
            to_account_id=bob.id,
            amount=kes("100.50"),
            fee=kes("1.25"),
            fee_account_id=fees.id,
        )
        await session.commit()
        assert await ledger.balance(session=session, account_id=alice.id) == kes("898.25")
        assert await ledger.balance(session=session, account_id=bob.id) == kes("100.50")
        assert await ledger.balance(session=session, account_id=fees.id) == kes("1.25")


async def test_overdraft_refused_and_nothing_half_written(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "10.00")
        bob = await ledger.get_or_open_account(session=session, owner_type="customer", owner_id=2, asset=KES)
        entries_before = (await session.execute(select(func.count(JournalEntry.id)))).scalar_one()
        with pytest.raises(errors.InsufficientFunds):
            await ledger.transfer(
                session=session,
                idempotency_key="too-much",
                from_account_id=alice.id,
                to_account_id=bob.id,
                amount=kes("10.01"),
            )
        await session.commit()
        assert (await session.execute(select(func.count(JournalEntry.id)))).scalar_one() == entries_before
        assert await ledger.balance(session=session, account_id=alice.id) == kes("10.00")
        # the refused key is free to use for a valid transfer
        await ledger.transfer(
            session=session,
            idempotency_key="too-much",
            from_account_id=alice.id,
            to_account_id=bob.id,
            amount=kes("10.00"),
        )


async def test_idempotent_replay_and_conflict(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1)
        bob = await ledger.get_or_open_account(session=session, owner_type="customer", owner_id=2, asset=KES)
        first = await ledger.transfer(
            session=session,
            idempotency_key="k",
            from_account_id=alice.id,
            to_account_id=bob.id,
            amount=kes("5"),
        )
        again = await ledger.transfer(
            session=session,
            idempotency_key="k",
            from_account_id=alice.id,
            to_account_id=bob.id,
            amount=kes("5"),
        )
        assert again.entry_id == first.entry_id and again.replayed and not first.replayed
        with pytest.raises(errors.IdempotencyConflict):
            await ledger.transfer(
                session=session,
                idempotency_key="k",
                from_account_id=alice.id,
                to_account_id=bob.id,
                amount=kes("6"),
            )
        assert await ledger.balance(session=session, account_id=bob.id) == kes("5.00")


@pytest.mark.parametrize(
    ("postings", "error"),
    [
        ([("a", "1.00")], errors.UnbalancedEntry),
        ([("a", "-1.00"), ("b", "0.99")], errors.UnbalancedEntry),
        ([("a", "0"), ("b", "0")], errors.InvalidPosting),
    ],
)
async def test_malformed_entries_refused(session_factory, postings, error):
    async with session_factory() as session:
        a = await _funded(session, 1)
        b = await ledger.get_or_open_account(session=session, owner_type="customer", owner_id=2, asset=KES)
        ids = {"a": a.id, "b": b.id}
        with pytest.raises(error):
            await ledger.post_entry(
                session=session,
                idempotency_key="bad",
                kind="x",
                postings=[PostingRequest(ids[name], kes(value)) for name, value in postings],
            )


async def test_currency_mismatch_and_unknown_account(session_factory):
    async with session_factory() as session:
        a = await _funded(session, 1)
        btc = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=2, asset=Asset.BTC
        )
        with pytest.raises(errors.InvalidPosting):
            await ledger.post_entry(
                session=session,
                idempotency_key="mix",
                kind="x",
                postings=[PostingRequest(a.id, kes("-1")), PostingRequest(btc.id, kes("1"))],
            )
        with pytest.raises(errors.UnknownAccount):
            await ledger.post_entry(
                session=session,
                idempotency_key="ghost",
                kind="x",
                postings=[PostingRequest(a.id, kes("-1")), PostingRequest(999_999, kes("1"))],
            )


async def test_hold_post_void_at_most_once(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "100")
        in_flight = await ledger.system_account(session=session, kind="payouts_in_flight", asset=KES)
        hold = await ledger.place_hold(
            session=session, idempotency_key="h1", account_id=alice.id, amount=kes("60")
        )
        assert await ledger.available(session=session, account_id=alice.id) == kes("40")
        with pytest.raises(errors.InsufficientFunds):
            await ledger.place_hold(
                session=session, idempotency_key="h2", account_id=alice.id, amount=kes("41")
            )
        posted = await ledger.post_hold(
            session=session,
            hold_id=hold.hold_id,
            idempotency_key="p1",
            postings=[PostingRequest(in_flight.id, kes("60"))],
        )
        replay = await ledger.post_hold(
            session=session,
            hold_id=hold.hold_id,
            idempotency_key="p1",
            postings=[PostingRequest(in_flight.id, kes("60"))],
        )
        assert replay.replayed and replay.entry_id == posted.entry_id
        with pytest.raises(errors.HoldAlreadyResolved):
            await ledger.void_hold(session=session, hold_id=hold.hold_id)
        assert await ledger.balance(session=session, account_id=alice.id) == kes("40")
        assert await ledger.available(session=session, account_id=alice.id) == kes("40")


async def test_void_releases_and_expired_hold_cannot_post(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "100")
        sink = await ledger.system_account(session=session, kind="payouts_in_flight", asset=KES)
        hold = await ledger.place_hold(
            session=session, idempotency_key="h", account_id=alice.id, amount=kes("30")
        )
        assert await ledger.void_hold(session=session, hold_id=hold.hold_id) is True
        assert await ledger.void_hold(session=session, hold_id=hold.hold_id) is False
        assert await ledger.available(session=session, account_id=alice.id) == kes("100")
        with pytest.raises(errors.HoldAlreadyResolved):
            await ledger.post_hold(
                session=session,
                hold_id=hold.hold_id,
                idempotency_key="p",
                postings=[PostingRequest(sink.id, kes("30"))],
            )
        soon = datetime.now(UTC) + timedelta(seconds=30)
        short = await ledger.place_hold(
            session=session, idempotency_key="short", account_id=alice.id, amount=kes("10"), expires_at=soon
        )
        with pytest.raises(errors.HoldExpired):
            await ledger.post_hold(
                session=session,
                hold_id=short.hold_id,
                idempotency_key="late",
                postings=[PostingRequest(sink.id, kes("10"))],
                now=soon + timedelta(seconds=1),
            )
        assert await ledger.expire_holds(session=session, now=soon + timedelta(seconds=1)) == 1
        assert await ledger.available(session=session, account_id=alice.id) == kes("100")


async def test_fx_is_one_entry_netting_per_currency(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "1000")
        alice_btc = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=Asset.BTC
        )
        liq_kes = await ledger.system_account(session=session, kind="fx_liquidity", asset=KES)
        liq_btc = await ledger.system_account(session=session, kind="fx_liquidity", asset=Asset.BTC)
        sats = Money.of("0.00012345", Asset.BTC)
        await ledger.post_entry(
            session=session,
            idempotency_key="fx1",
            kind="fx",
            postings=[
                PostingRequest(alice.id, kes("-1000")),
                PostingRequest(liq_kes.id, kes("1000")),
                PostingRequest(liq_btc.id, -sats),
                PostingRequest(alice_btc.id, sats),
            ],
        )
        assert await ledger.balance(session=session, account_id=alice_btc.id) == sats
        assert await ledger.balance(session=session, account_id=liq_btc.id) == -sats


async def test_closed_accounts_refuse_postings_and_only_empty_ones_close(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "10")
        bob = await ledger.get_or_open_account(session=session, owner_type="customer", owner_id=2, asset=KES)
        with pytest.raises(errors.InvalidPosting, match="only an empty account"):
            await ledger.close_account(session=session, account_id=alice.id)
        await ledger.close_account(session=session, account_id=bob.id)
        with pytest.raises(errors.AccountClosed):
            await ledger.transfer(
                session=session,
                idempotency_key="to-closed",
                from_account_id=alice.id,
                to_account_id=bob.id,
                amount=kes("1"),
            )
        with pytest.raises(errors.AccountClosed):
            await ledger.place_hold(
                session=session, idempotency_key="hold-closed", account_id=bob.id, amount=kes("1")
            )
        assert await ledger.balance(session=session, account_id=alice.id) == kes("10")


async def test_wallet_balances_are_what_each_wallet_can_spend(session_factory):
    async with session_factory() as session:
        alice = await _funded(session, 1, "100.00")
        btc = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=1, asset=Asset.BTC
        )
        await _funded(session, 2, "5.00")  # someone else's wallet is not counted
        await ledger.place_hold(session=session, idempotency_key="h-1", account_id=alice.id, amount=kes("30"))
        await session.commit()
        found = await ledger.wallet_balances(session=session, owner_type="customer", owner_id=1)
        assert found == {"KES": 7000, "BTC": 0}
        assert btc.asset == "BTC"
        assert await ledger.wallet_balances(session=session, owner_type="customer", owner_id=99) == {}
