"""B2C and STK end to end: real PostgreSQL, Redis, RQ worker processes, simulator and callbacks over HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from core.ledger import service as ledger
from core.money import Asset, Money
from core.payments import collections, service
from core.payments.models import MpesaCallback, MpesaCollection, Payout
from payouts.models import MpesaApiCall
from tests.integration.payouts.harness import (
    TOKEN,
    funded_wallet,
    ledger_ok,
    pending_holds,
    wait_callbacks,
    wait_final,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def _payout(factory, wallet_id: int, customer_id: int, amount: str, phone: str, key: str) -> str:
    async with factory() as session:
        payout = await service.create_payout(
            session=session,
            idempotency_key=key,
            account_id=wallet_id,
            phone=phone,
            amount=Money.of(amount, Asset.KES),
            customer_id=customer_id,
        )
        await session.commit()
        return payout.id


async def test_b2c_payout_end_to_end(stack, relay):
    stack.start_worker()
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, 1, 1000)
    payout_id = await _payout(factory, wallet, 1, "500.50", "0712345678", "sell-1")
    (row,) = await wait_final(factory, [payout_id], timeout=30)
    assert row.status == "succeeded" and row.receipt and row.conversation_id
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=wallet) == Money.of("500.00", Asset.KES)
        calls = (await session.execute(select(MpesaApiCall).where(MpesaApiCall.api == "b2c"))).scalars().all()
    assert len(calls) == 1 and calls[0].request["SecurityCredential"] == "***"
    assert stack.sim("GET", f"/simulator/b2c/{payout_id}")["payments"] == 1
    assert await pending_holds(factory) == 0
    assert await ledger_ok(factory) == []


@pytest.mark.parametrize("outcome", ["2040", "1", "8006"])
async def test_b2c_failure_voids_hold(stack, relay, outcome):
    stack.start_worker()
    stack.sim("POST", "/simulator/b2c/behaviour", json={"outcome": outcome, "default": True})
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, 2, 1000)
    payout_id = await _payout(factory, wallet, 2, "300", "0712345679", "sell-2")
    (row,) = await wait_final(factory, [payout_id], timeout=30)
    assert row.status == "failed" and row.result_code == outcome
    async with factory() as session:
        assert await ledger.available(session=session, account_id=wallet) == Money.of(1000, Asset.KES)
    assert await pending_holds(factory) == 0 and await ledger_ok(factory) == []


async def test_stk_collection_end_to_end(stack, relay):
    stack.start_worker()
    factory = relay.runtime.session_factory
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=3, asset=Asset.KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key="buy-1",
            customer_id=3,
            account_id=wallet.id,
            phone="+254712345670",
            amount=Money.of(250, Asset.KES),
            reference="BUY1",
        )
        await session.commit()
        collection_id, wallet_id = row.id, wallet.id
    deadline = time.monotonic() + 120  # a generous bound: the callback, then our STK Query
    while time.monotonic() < deadline:
        async with factory() as session:
            row = await session.get(MpesaCollection, collection_id)
        if row.status == "succeeded":
            break
        await asyncio.sleep(0.3)
    assert row.status == "succeeded" and row.receipt and row.raw_callback
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of(250, Asset.KES)
    # a duplicate callback on demand changes nothing
    stack.sim("POST", f"/simulator/stk/{row.checkout_request_id}/resend")
    await wait_callbacks(factory, "stk", 2)
    outcomes: list[str | None] = [None]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and None in outcomes:  # stored first, processed right after
        async with factory() as session:
            query = select(MpesaCallback.outcome).where(MpesaCallback.kind == "stk")
            outcomes = [o for (o,) in (await session.execute(query)).all()]
        await asyncio.sleep(0.2)
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of(250, Asset.KES)
    assert sorted(o or "" for o in outcomes) == ["confirming", "duplicate"]  # our STK Query credited it
    assert await ledger_ok(factory) == []


async def test_wrong_secret_path_is_403_and_changes_nothing(stack, relay):
    factory = relay.runtime.session_factory
    body = {"Result": {"ResultCode": 0, "OriginatorConversationID": "x", "ConversationID": "y"}}
    response = httpx.post(f"{stack.app_url}/mpesa/not-the-token/b2c/result", json=body)
    assert response.status_code == 403
    async with factory() as session:
        assert (await session.execute(select(MpesaCallback))).first() is None
    ok = httpx.post(f"{stack.app_url}/mpesa/{TOKEN}/b2c/result", content=b"{not json")
    assert ok.status_code == 200 and ok.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    async with factory() as session:
        (row,) = (await session.execute(select(MpesaCallback))).scalars().all()
    assert row.flagged and row.outcome == "malformed" and row.raw == "{not json"
    async with factory() as session:
        assert (await session.execute(select(Payout))).first() is None
