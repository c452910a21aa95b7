"""Merchant settlements under the payouts chaos harness (real PostgreSQL, Redis, RQ worker processes,
the Daraja simulator over HTTP): workers killed with -9 after Daraja accepted a B2B payment, Redis
flushed mid-run, B2B result callbacks duplicated or never sent, a closed paybill. Every merchant is
paid exactly once, or not at all and its money is back on its balance; the books balance."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from redis import Redis
from sqlalchemy import select

from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.outbox import service as outbox_service
from core.settlements import flows
from core.settlements.models import Settlement
from core.settlements.service import credit_kibeti_payment, merchant_balance
from payouts.jobs import reconcile_stuck_payouts
from tests.integration.payouts.faults import crash_env
from tests.integration.payouts.harness import ledger_ok, pending_holds, wait_final

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
KES = Asset.KES
CLOSED_PAYBILL = "777777"


async def _merchants_with_sales(factory, count: int) -> dict[int, str]:
    """`count` active merchants, each paid KES (1,000 + n) by a Kibeti customer; the last settles to
    a paybill that M-Pesa refuses. Returns merchant id -> its till or paybill."""
    tills: dict[int, str] = {}
    async with factory() as session:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        for n in range(count):
            closed = n == count - 1
            merchant = await merchants.create_merchant(
                session=session, name=f"Duka {n}", actor="test", clock=FixedClock(),
                settlement_method="paybill" if closed else "till",
                settlement_till="" if closed else f"55{n:05d}",
                settlement_paybill=CLOSED_PAYBILL if closed else "", settlement_account="ACC1" if closed else "",
                notification_phones=[f"+2547110{n:05d}"], settlement_schedule="daily",
            )  # fmt: skip
            merchant.status = "active"
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=5000 + n, asset=KES
            )
            amount = Money.of(1000 + n, KES)
            await ledger.post_entry(
                session=session, idempotency_key=f"fund:{n}", kind="test_funding",
                postings=[PostingRequest(float_account.id, -amount), PostingRequest(wallet.id, amount)],
            )  # fmt: skip
            await credit_kibeti_payment(
                session=session, merchant=merchant, payment_key=f"chaos:{n}", reference="", customer_id=5000 + n,
                from_account_id=wallet.id, amount=amount, paid=amount, payer="0712***678",
            )  # fmt: skip
            tills[merchant.id] = CLOSED_PAYBILL if closed else merchant.settlement_till
        await session.commit()
    return tills


async def _settlements(factory) -> list[Settlement]:
    async with factory() as session:
        return list((await session.execute(select(Settlement).order_by(Settlement.id))).scalars())


async def _wait_settled(factory, timeout: float, tick) -> list[Settlement]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await _settlements(factory)
        if all(r.status != "paying" for r in rows) or time.monotonic() > deadline:
            return rows
        await tick()
        await asyncio.sleep(0.3)


async def _check(stack, factory, tills: dict[int, str]) -> None:
    rows = await _settlements(factory)
    by_merchant = {r.merchant_id: r for r in rows}
    assert set(by_merchant) == set(tills) and len(rows) == len(tills), "one settlement per merchant"
    payments = stack.sim("GET", "/simulator/payments")["payments"]
    async with factory() as session:
        for merchant_id, till in tills.items():
            row = by_merchant[merchant_id]
            paid = sum(count for ocid, count in payments.items() if ocid.split("-", 1)[0] == row.payout_id)
            balance = await merchant_balance(session, merchant_id)
            if till == CLOSED_PAYBILL:
                assert (row.status, paid) == ("failed", 0)
                assert balance.minor == row.amount_minor + balance.minor % 100  # all of it is back
            else:
                assert (row.status, paid) == ("paid", 1), (merchant_id, row.status, paid)
                assert row.receipt and balance < Money.of(1, KES)  # only the cents stay
    assert await pending_holds(factory) == 0
    assert await ledger_ok(factory) == []


async def test_settlements_survive_killed_workers_and_odd_callbacks(stack, relay):
    rng = random.Random(16)
    crash = crash_env("0.3")
    for _ in range(3):
        stack.start_worker(**crash)
    factory = relay.runtime.session_factory
    tills = await _merchants_with_sales(factory, 12)
    for n, till in enumerate(sorted(tills.values())):  # B2B results duplicated, or never sent
        if till != CLOSED_PAYBILL and n % 3:
            mode = "duplicate" if n % 3 == 1 else "none"
            stack.sim("POST", "/simulator/b2c/behaviour", json={"msisdn": till, "callback": mode})
    stack.sim("POST", "/simulator/b2c/behaviour", json={"msisdn": CLOSED_PAYBILL, "outcome": "2006"})
    opened = await flows.run_settlements(relay.runtime)
    again = await flows.run_settlements(relay.runtime)  # a second run the same minute: nothing new
    assert len(opened) == 12 and again == []
    killed = [0]

    async def chaos_tick() -> None:
        await reconcile_stuck_payouts(older_than_s=2)
        alive = [w for w in stack.workers if w.poll() is None]
        if alive and (killed[0] == 0 or rng.random() < 0.2):
            stack.kill_worker(rng.choice(alive))
            killed[0] += 1
        while sum(1 for w in stack.workers if w.poll() is None) < 3:
            stack.start_worker(**crash)

    await wait_final(factory, [r.payout_id for r in opened], timeout=120, tick=chaos_tick)
    await _wait_settled(factory, 60, lambda: reconcile_stuck_payouts(older_than_s=2))
    await asyncio.sleep(1)  # duplicate callbacks still in flight
    assert killed[0] > 0
    await _check(stack, factory, tills)


async def test_redis_flushed_mid_run_loses_no_settlement(stack, relay, monkeypatch):
    monkeypatch.setattr(outbox_service, "REDISPATCH_AFTER", outbox_service.timedelta(seconds=2))
    stack.start_worker()
    factory = relay.runtime.session_factory
    tills = await _merchants_with_sales(factory, 6)
    stack.sim("POST", "/simulator/b2c/behaviour", json={"msisdn": CLOSED_PAYBILL, "outcome": "2006"})
    opened = await flows.run_settlements(relay.runtime)
    await asyncio.sleep(0.3)
    Redis.from_url(stack.redis_url).flushdb()
    await wait_final(factory, [r.payout_id for r in opened], timeout=60)
    await _wait_settled(factory, 60, lambda: reconcile_stuck_payouts(older_than_s=2))
    await _check(stack, factory, tills)
