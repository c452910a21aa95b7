"""SimpleWorker (`--simple`): coroutine jobs share one long-lived event loop per worker process, with its
pooled engine, keep-alive HTTP client and Redis connection. The same guarantees as the forking Worker."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from payouts.jobs import reconcile_stuck_payouts
from tests.integration.payouts.faults import crash_env
from tests.integration.payouts.harness import wait_final
from tests.integration.payouts.test_chaos import _check_books, _create

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def test_simple_workers_pay_each_payout_once(stack, relay):
    for _ in range(2):
        stack.start_worker(simple=True)
    factory = relay.runtime.session_factory
    ids, wallets = await _create(factory, 20, 500)
    await wait_final(factory, ids, timeout=60)
    await _check_books(stack, factory, ids, wallets)


async def test_kill_dash_nine_simple_workers(stack, relay):
    rng = random.Random(7)
    crash = crash_env("0.25")
    for _ in range(3):
        stack.start_worker(simple=True, **crash)
    factory = relay.runtime.session_factory
    ids, wallets = await _create(factory, 30, 600)
    killed = [0]
    last_kill = [time.monotonic()]

    async def chaos_tick() -> None:
        await reconcile_stuck_payouts(older_than_s=2)
        alive = [w for w in stack.workers if w.poll() is None]
        if alive and (killed[0] == 0 or (time.monotonic() - last_kill[0] > 2.5 and rng.random() < 0.5)):
            stack.kill_worker(rng.choice(alive))
            killed[0] += 1
            last_kill[0] = time.monotonic()
        while sum(1 for w in stack.workers if w.poll() is None) < 3:
            stack.start_worker(simple=True, **crash)

    await wait_final(factory, ids, timeout=100, tick=chaos_tick)
    stack.sim("POST", "/simulator/b2c/behaviour", json={})
    await asyncio.sleep(1)  # in-flight duplicate callbacks, if any
    assert killed[0] > 0
    await _check_books(stack, factory, ids, wallets)
