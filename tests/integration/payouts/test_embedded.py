"""The embedded default: SQLite, no Redis, the in-process queue, the simulator mounted at /daraja-sim,
callbacks to the same process. A payout goes through and the books balance."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from core.db.session import make_engine, make_session_factory
from core.money import Asset, Money
from core.payments import service
from core.payments.models import Payout
from tests.integration.payouts.harness import ROOT, free_port, funded_wallet, ledger_ok, wait_http

pytestmark = pytest.mark.slow


async def _create(factory) -> str:
    wallet = await funded_wallet(factory, 1, 1000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session,
            idempotency_key="embedded-1",
            account_id=wallet,
            phone="0712345678",
            amount=Money.of("123.45", Asset.KES),
            customer_id=1,
        )
        await session.commit()
    return payout.id


async def _with_retry(work, attempts: int = 5):
    """This test writes from a second process; SQLite answers "database is locked" when a read
    transaction must upgrade while the server writes (deferred BEGIN). Writers retry."""
    for attempt in range(attempts):
        try:
            return await work()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def test_embedded_payout_through_the_mounted_simulator(sqlite_url):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": "",
        "MPESA_BASE_URL": "",
        "MPESA_CALLBACK_BASE_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/health")
        async with httpx.AsyncClient() as http:
            announced = (await http.get(f"http://127.0.0.1:{port}/daraja-sim/")).json()
        assert announced["simulator"] is True
        payout_id = await _with_retry(lambda: _create(factory))
        for _ in range(120):
            async with factory() as session:
                row = await session.get(Payout, payout_id, populate_existing=True)
            if row.status in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.25)
        assert row.status == "succeeded" and row.amount_minor == 12300
        assert await ledger_ok(factory) == []
    finally:
        server.terminate()
        server.wait()
        await engine.dispose()
