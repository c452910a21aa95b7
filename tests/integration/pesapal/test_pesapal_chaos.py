"""Chaos for the PesaPal reconciler: real RQ workers (one killed with -9 while confirmations are in
flight), Redis flushed, IPNs that never come and IPNs that come twice. Every order is credited once."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from redis import Redis
from sqlalchemy import func, select

from core.config import Settings
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import JournalEntry, OwnerType
from core.money import Asset, Money
from core.rails import jobs as rail_jobs
from core.rails import service as rail_orders
from core.rails.models import OrderStatus, RailOrder
from simulators.africastalking import FakeAfricasTalking
from tests.integration.payouts.harness import Relay, Stack, free_port, ledger_ok, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
ORDERS = 6


class PesapalStack(Stack):
    """The PesaPal side of the app (IPN route + simulator) over HTTP, and RQ worker processes."""

    at_url: str = ""

    def settings(self) -> Settings:
        return Settings(
            kibeti_env="test", database_url=self.pg_url, redis_url=self.redis_url,
            pesapal_public_base_url=self.app_url, at_base_url=self.at_url,
        )  # fmt: skip

    def start_servers(self, **env: str) -> None:
        self.app_url = f"http://127.0.0.1:{free_port()}"
        self.env.update(
            DATABASE_URL=self.pg_url, REDIS_URL=self.redis_url, PESAPAL_PUBLIC_BASE_URL=self.app_url,
            AT_BASE_URL=self.at_url, KIBETI_ENV="test", **env,
        )  # fmt: skip
        port = self.app_url.rsplit(":", 1)[1]
        app = "tests.integration.pesapal.pesapal_app:create_app"
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--port",
            port,
            "--log-level",
            "warning",
        ]
        self.processes.append(self._spawn(uvicorn))
        wait_http(self.app_url + "/up")

    def http(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = httpx.request(method, self.app_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]
        assert response.status_code < 400, response.text
        return response


@pytest.fixture
def stack(clean_pg_url: str, redis_url: str) -> Iterator[PesapalStack]:
    sms = FakeAfricasTalking().start()
    s = PesapalStack(pg_url=clean_pg_url, redis_url=redis_url)
    s.at_url = sms.url
    try:
        s.start_servers()
        yield s
    finally:
        s.stop()
        sms.stop()


@pytest.fixture
async def relay(stack: PesapalStack) -> AsyncIterator[Relay]:
    r = Relay(stack)
    r.start()
    yield r
    await r.stop()
    if r.runtime.redis is not None:
        await r.runtime.redis.aclose()
    r.runtime.queue.connection.close()  # type: ignore[attr-defined]


async def _orders(factory: object, count: int) -> list[int]:
    ids = []
    for n in range(count):
        async with factory() as session:  # type: ignore[operator]
            customer = await identity.register_customer(
                session=session, phone=f"+2547330001{n:02d}", name=f"Chaos {n}", national_id=f"3300{n:04d}",
                language="en", pin="4826",
            )  # fmt: skip
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer.id, asset=Asset.KES
            )
            order = await rail_orders.create_order(
                session=session, rail="pesapal", purpose="topup", idempotency_key=f"chaos-{n}",
                customer_id=customer.id, account_id=wallet.id, phone=customer.phone,
                amount=Money.of(100 + n, Asset.KES),
            )  # fmt: skip
            await session.commit()
            ids.append(order.id)
    return ids


async def _rows(factory: object) -> list[RailOrder]:
    async with factory() as session:  # type: ignore[operator]
        return list((await session.execute(select(RailOrder).order_by(RailOrder.id))).scalars())


async def _until(factory: object, done: object, timeout: float, tick: object = None) -> list[RailOrder]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await _rows(factory)
        if done(rows) or time.monotonic() > deadline:  # type: ignore[operator]
            return rows
        if tick is not None:
            await tick()  # type: ignore[operator]
        await asyncio.sleep(0.3)


async def test_killed_worker_and_flushed_redis_still_credit_each_order_once(
    stack: PesapalStack, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rail_jobs, "RECHECK_AFTER", timedelta(seconds=1))  # the reconciler's patience
    factory = relay.runtime.session_factory
    ids = await _orders(factory, ORDERS)
    first = stack.start_worker()
    rows = await _until(factory, lambda rs: all(r.tracking_id for r in rs), 60)
    assert all(r.tracking_id for r in rows), [r.status for r in rows]

    stack.http("POST", "/pesapal-sim/simulator/behaviour", json={"ipn": "never"})
    for row in rows[: ORDERS // 2]:  # paid, and PesaPal never says so
        stack.http("POST", f"/pesapal-sim/pay/{row.tracking_id}/pay", data={"method": "airtel"})
    stack.http("POST", "/pesapal-sim/simulator/behaviour", json={"ipn": "twice"})
    for row in rows[ORDERS // 2 :]:  # paid, and told twice: confirmations queue up
        stack.http("POST", f"/pesapal-sim/pay/{row.tracking_id}/pay", data={"method": "card"})
    await asyncio.sleep(0.3)
    stack.kill_worker(first)  # kill -9 while confirmations are queued or running
    with Redis.from_url(stack.redis_url) as connection:
        connection.flushdb()  # and every queued job is lost
    stack.start_worker()

    async def reconcile() -> None:  # what the scheduler's periodic job does
        await rail_jobs.reconcile_rail_orders()

    rows = await _until(
        factory, lambda rs: all(r.status == OrderStatus.COMPLETED.value for r in rs), 90, tick=reconcile
    )
    assert [r.status for r in rows] == [OrderStatus.COMPLETED.value] * ORDERS
    async with factory() as session:
        credits = await session.execute(
            select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "pesapal_collection")
        )
        assert credits.scalar_one() == ORDERS
        for row in rows:
            balance = await ledger.balance(session=session, account_id=row.account_id)
            assert balance.amount == Decimal(row.amount_minor) / 100
    assert await ledger_ok(factory) == []
    assert sorted(r.id for r in rows) == sorted(ids)
