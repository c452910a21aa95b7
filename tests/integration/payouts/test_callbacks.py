"""Duplicate, late, missing and timeout-only callbacks; amount mismatch; all over HTTP with real workers."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from core.ledger import service as ledger
from core.ledger.models import JournalEntry
from core.money import Asset, Money
from core.payments import collections, service
from core.payments.models import MpesaCallback, MpesaCollection
from payouts.jobs import reconcile_stuck_payouts
from tests.integration.payouts.harness import (
    funded_wallet,
    ledger_ok,
    pending_holds,
    wait_callbacks,
    wait_final,
)
from tests.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def _payout(factory, customer_id: int, amount: str = "200") -> tuple[str, int]:
    wallet = await funded_wallet(factory, customer_id, 1000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session,
            idempotency_key=f"sell-{customer_id}",
            account_id=wallet,
            phone=f"07123450{customer_id:02d}",
            amount=Money.of(amount, Asset.KES),
            customer_id=customer_id,
        )
        await session.commit()
    return payout.id, wallet


async def _reconcile() -> None:
    await reconcile_stuck_payouts(older_than_s=0.5)


async def _payout_entries(factory) -> int:
    async with factory() as session:
        rows = (await session.execute(select(JournalEntry).where(JournalEntry.kind == "mpesa_payout"))).all()
    return len(rows)


async def test_duplicate_callback_posts_once(stack, relay):
    stack.start_worker()
    stack.sim("POST", "/simulator/b2c/behaviour", json={"callback": "duplicate"})
    factory = relay.runtime.session_factory
    payout_id, wallet = await _payout(factory, 11)
    (row,) = await wait_final(factory, [payout_id], timeout=30)
    await wait_callbacks(factory, "b2c_result", 2)  # let the duplicate land
    assert row.status == "succeeded"
    async with factory() as session:
        outcomes = sorted(
            o
            for (o,) in (
                await session.execute(select(MpesaCallback.outcome).where(MpesaCallback.kind == "b2c_result"))
            )
        )
        assert await ledger.balance(session=session, account_id=wallet) == Money.of(800, Asset.KES)
    assert outcomes == ["duplicate", "succeeded"]
    assert await _payout_entries(factory) == 1 and await ledger_ok(factory) == []


async def test_missing_callback_resolved_by_status_query_then_late_callback_ignored(stack, relay):
    stack.start_worker()
    stack.sim("POST", "/simulator/b2c/behaviour", json={"callback": "none"})
    factory = relay.runtime.session_factory
    payout_id, wallet = await _payout(factory, 12)
    (row,) = await wait_final(factory, [payout_id], timeout=30, tick=_reconcile)
    assert row.status == "succeeded" and row.status_query_id
    stack.sim("POST", f"/simulator/b2c/{payout_id}/resend")  # the late original result
    await wait_callbacks(factory, "b2c_result", 1)
    async with factory() as session:
        late = (
            await session.execute(select(MpesaCallback.outcome).where(MpesaCallback.kind == "b2c_result"))
        ).scalar_one()
        assert await ledger.balance(session=session, account_id=wallet) == Money.of(800, Asset.KES)
    assert late == "duplicate" and await _payout_entries(factory) == 1
    assert stack.sim("GET", f"/simulator/b2c/{payout_id}")["payments"] == 1
    assert await pending_holds(factory) == 0 and await ledger_ok(factory) == []


@pytest.mark.parametrize(("outcome", "final"), [("success", "succeeded"), ("2040", "failed")])
async def test_timeout_only_is_unknown_until_status_says(stack, relay, outcome, final):
    stack.start_worker()
    stack.sim("POST", "/simulator/b2c/behaviour", json={"outcome": outcome, "callback": "timeout_only"})
    factory = relay.runtime.session_factory
    payout_id, _ = await _payout(factory, 13)
    deadline = time.monotonic() + 20
    seen_unknown = False
    while time.monotonic() < deadline and not seen_unknown:
        async with factory() as session:
            seen_unknown = (
                await service.get_payout(session=session, payout_id=payout_id)
            ).status == "unknown"
        await asyncio.sleep(0.2)
    assert seen_unknown  # a timeout is never a failure by itself
    (row,) = await wait_final(factory, [payout_id], timeout=30, tick=_reconcile)
    assert row.status == final
    assert await pending_holds(factory) == 0 and await ledger_ok(factory) == []


async def test_stk_amount_mismatch_is_flagged_not_credited(stack, relay):
    stack.start_worker()
    stack.sim("POST", "/simulator/stk/behaviour", json={"amount_override": "1"})
    factory = relay.runtime.session_factory
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=14, asset=Asset.KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key="buy-14",
            customer_id=14,
            account_id=wallet.id,
            phone="0712345614",
            amount=Money.of(500, Asset.KES),
        )
        await session.commit()
        collection_id, wallet_id = row.id, wallet.id
    deadline = time.monotonic() + 120  # a generous bound: the callback, then our STK Query
    while time.monotonic() < deadline:
        async with factory() as session:
            row = await session.get(MpesaCollection, collection_id)
        if row.status not in ("created", "requesting", "requested"):
            break
        await asyncio.sleep(0.3)
    assert row.status == "flagged" and "amount" in row.flag_reason
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.zero(Asset.KES)
        cb = (await session.execute(select(MpesaCallback).where(MpesaCallback.kind == "stk"))).scalar_one()
    assert cb.flagged and cb.outcome == "flagged"


@pytest.mark.parametrize("outcome", ["1032", "1037", "2001", "1"])
async def test_stk_failures_credit_nothing(stack, relay, outcome):
    stack.start_worker()
    stack.sim("POST", "/simulator/stk/behaviour", json={"outcome": outcome})
    factory = relay.runtime.session_factory
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=15, asset=Asset.KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key="buy-15",
            customer_id=15,
            account_id=wallet.id,
            phone="0712345615",
            amount=Money.of(100, Asset.KES),
        )
        await session.commit()
        collection_id = row.id
    deadline = time.monotonic() + 120  # a generous bound: the callback, then our STK Query
    while time.monotonic() < deadline:
        async with factory() as session:
            row = await session.get(MpesaCollection, collection_id)
        if row.status == "failed":
            break
        await asyncio.sleep(0.3)
    assert row.status == "failed" and row.result_code == outcome


async def test_stk_without_callback_is_resolved_by_stk_query(stack, relay):
    stack.start_worker()
    stack.sim("POST", "/simulator/stk/behaviour", json={"callback": "none"})
    factory = relay.runtime.session_factory
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=16, asset=Asset.KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key="buy-16",
            customer_id=16,
            account_id=wallet.id,
            phone="0712345616",
            amount=Money.of(300, Asset.KES),
        )
        await session.commit()
        collection_id, wallet_id = row.id, wallet.id
    deadline = time.monotonic() + 120  # a generous bound: the callback, then our STK Query
    while time.monotonic() < deadline:
        await _reconcile()
        async with factory() as session:
            row = await session.get(MpesaCollection, collection_id, populate_existing=True)
        if row.status == "succeeded":
            break
        await asyncio.sleep(0.3)
    assert row.status == "succeeded"
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of(300, Asset.KES)
    assert await ledger_ok(factory) == []


async def test_low_float_is_flagged_for_staff(stack, relay):
    from payouts.jobs import check_account_balance

    stack.sim("POST", "/simulator/config", json={"utility_balance": "1000.00"})
    await check_account_balance()
    factory = relay.runtime.session_factory

    async def processed() -> MpesaCallback | None:
        """The balance result once processed (the row exists before it is: wait for the outcome)."""
        async with factory() as session:
            row = (
                await session.execute(select(MpesaCallback).where(MpesaCallback.kind == "balance_result"))
            ).scalar_one_or_none()
        return row if row is not None and row.outcome else None

    row = await eventually(processed, what="the balance result processed")
    assert row.flagged and row.outcome == "low_float"
