"""Chaos: kill -9 worker processes at random points (incl. after Daraja accepted and before the DB heard
of it), flush Redis mid-run, and four workers under one shortcode rate limit. Money moves once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

import pytest
from redis import Redis
from sqlalchemy import select

from core.ledger import service as ledger
from core.money import Asset, Money
from core.outbox import service as outbox_service
from core.payments import service
from core.payments.models import Payout
from payouts.jobs import reconcile_stuck_payouts
from tests.integration.payouts.faults import crash_env
from tests.integration.payouts.harness import funded_wallet, ledger_ok, pending_holds, wait_final

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def _create(factory, count: int, first_customer: int) -> tuple[list[str], dict[str, int]]:
    ids, wallets = [], {}
    for n in range(count):
        customer = first_customer + n
        wallet = await funded_wallet(factory, customer, 5000)
        async with factory() as session:
            payout = await service.create_payout(
                session=session,
                idempotency_key=f"chaos-{customer}",
                account_id=wallet,
                phone=f"0712{customer:06d}",
                amount=Money.of(100 + n, Asset.KES),
                customer_id=customer,
            )
            await session.commit()
        ids.append(payout.id)
        wallets[payout.id] = wallet
    return ids, wallets


def _paid_per_payout(stack, ids: list[str]) -> dict[str, int]:
    payments = stack.sim("GET", "/simulator/payments")["payments"]
    paid: dict[str, int] = defaultdict(int)
    for ocid, count in payments.items():
        paid[ocid.split("-", 1)[0]] += count
    return {payout_id: paid.get(payout_id, 0) for payout_id in ids}


async def _check_books(stack, factory, ids: list[str], wallets: dict[str, int]) -> None:
    async with factory() as session:
        rows = {r.id: r for r in (await session.execute(select(Payout).where(Payout.id.in_(ids)))).scalars()}
        balances = {pid: await ledger.balance(session=session, account_id=w) for pid, w in wallets.items()}
    paid = _paid_per_payout(stack, ids)
    assert all(rows[pid].status in ("succeeded", "failed") for pid in ids), {
        pid: rows[pid].status for pid in ids if rows[pid].status not in ("succeeded", "failed")
    }
    assert max(paid.values()) <= 1, "a payout was paid twice"
    for pid in ids:
        assert (rows[pid].status == "succeeded") == (paid[pid] == 1), (pid, rows[pid].status, paid[pid])
        expected = Money.of(5000, Asset.KES) - (
            Money.from_minor(rows[pid].amount_minor, Asset.KES) if paid[pid] else Money.zero(Asset.KES)
        )
        assert balances[pid] == expected
    assert await pending_holds(factory) == 0
    assert await ledger_ok(factory) == []


async def test_kill_dash_nine_during_50_payouts(stack, relay):
    rng = random.Random(5)
    crash = crash_env("0.25")
    for _ in range(4):
        stack.start_worker(**crash)
    factory = relay.runtime.session_factory
    ids, wallets = await _create(factory, 50, 100)
    killed = 0
    last_kill = [time.monotonic()]
    spikes = [0]

    async def chaos_tick() -> None:
        nonlocal killed
        await reconcile_stuck_payouts(older_than_s=2)
        alive = [w for w in stack.workers if w.poll() is None]
        # The first tick always kills (the pipeline may finish 50 payouts in a few seconds), then at random.
        if alive and (killed == 0 or (time.monotonic() - last_kill[0] > 2.5 and rng.random() < 0.5)):
            victim = rng.choice(alive)
            stack.kill_worker(victim)
            killed += 1
            last_kill[0] = time.monotonic()
        while sum(1 for w in stack.workers if w.poll() is None) < 4:
            stack.start_worker(**crash)
        if spikes[0] < 3 and rng.random() < 0.05:
            stack.sim("POST", "/simulator/spike", json={"count": 2})  # Daraja says "system busy" twice
            spikes[0] += 1

    await wait_final(factory, ids, timeout=100, tick=chaos_tick)
    stack.sim("POST", "/simulator/b2c/behaviour", json={})  # no further faults needed
    await asyncio.sleep(1)  # in-flight duplicate callbacks, if any
    assert killed > 0
    await _check_books(stack, factory, ids, wallets)


async def test_flushdb_mid_run_loses_no_payout(stack, relay, monkeypatch):
    monkeypatch.setattr(outbox_service, "REDISPATCH_AFTER", outbox_service.timedelta(seconds=2))
    stack.start_worker()
    factory = relay.runtime.session_factory
    ids, wallets = await _create(factory, 20, 300)
    await asyncio.sleep(0.5)
    Redis.from_url(stack.redis_url).flushdb()  # queued jobs, the token, the rate bucket: all gone
    await wait_final(factory, ids, timeout=60)
    await _check_books(stack, factory, ids, wallets)


async def test_four_workers_never_exceed_the_shortcode_rate(stack, relay):
    per_second, burst = 5, 1
    env = {"MPESA_B2C_RATE_PER_HOUR": str(per_second * 3600), "MPESA_B2C_RATE_BURST": str(burst)}
    for _ in range(4):
        stack.start_worker(**env)
    factory = relay.runtime.session_factory
    started = time.time()  # the simulator stamps arrivals with the same wall clock
    ids, wallets = await _create(factory, 20, 400)
    await wait_final(factory, ids, timeout=60)
    await _check_books(stack, factory, ids, wallets)
    times = sorted(stack.sim("GET", "/simulator/b2c/times"))
    assert len(times) == 20
    # A bucket of `burst` refilling `per_second` grants at most burst + per_second * t sends in the
    # first t seconds, and a send arrives after its grant: so the k-th arrival cannot come before
    # started + (k - burst) / per_second. Load only delays arrivals; it cannot make this fail.
    for k, arrived in enumerate(times, start=1):
        earliest = started + (k - burst) / per_second
        assert arrived >= earliest - 0.001, (k, arrived - started)
