"""Webhooks on a real RQ worker process (`kibeti worker rq`, PostgreSQL, Redis): the receiver is down
for its first answers, the worker is killed with kill -9 and Redis is flushed mid-schedule; a new
worker finishes the job. Every event reaches the receiver exactly once with a 2xx, every attempt the
receiver saw is in the delivery log, and the signatures verify with the merchant's own code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import select

from channels.webhooks import jobs as webhook_jobs
from core import runtime as runtime_module
from core.config import Settings
from core.merchants.models import Merchant
from core.outbox import service as outbox_service
from core.runtime import Runtime
from core.webhooks import service
from core.webhooks.destinations import DestinationPolicy
from core.webhooks.events import record_event
from core.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.integration.webhooks.receiver import Receiver, verify
from webapp.bootstrap import build_runtime
from webapp.deps_auth import get_keyring

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # web3 (wallets adapter) on import
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
ROOT = Path(__file__).resolve().parents[3]
KIBETI = [sys.executable, "-c", "from webapp.cli import main; main()"]  # `kibeti`, from this checkout
FAST = {"WEBHOOK_RETRY_SCHEDULE_SECONDS": "[1, 1, 1, 1, 1, 1, 1, 1]", "WEBHOOK_TIMEOUT_SECONDS": "2"}


def _settings(pg_url: str, redis_url: str) -> Settings:
    return Settings(
        kibeti_env="test",
        database_url=pg_url,
        redis_url=redis_url,
        webhook_retry_schedule_seconds=[1.0] * 8,
        webhook_timeout_seconds=2,
    )


class Workers:
    def __init__(self, pg_url: str, redis_url: str) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "KIBETI_ENV": "test",
            **FAST,
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        logs = os.environ.get("KIBETI_TEST_LOGS")  # a directory: keep each worker's output
        out: Any = subprocess.DEVNULL
        if logs:
            out = (Path(logs) / f"webhook-worker-{len(self.processes)}.log").open("ab")
        process = subprocess.Popen(
            [*KIBETI, "worker", "rq", "--queues", "webhooks"],  # deliveries' own queue
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill_9(self, process: subprocess.Popen[bytes]) -> None:
        """The worker, its work-horse and its scheduler: the whole process group, SIGKILL."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill_9(process)


@pytest.fixture
async def stack(
    clean_pg_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Runtime, Workers]]:
    # The relay and the sweep run here, in the test's loop (what `kibeti scheduler` does); lost jobs
    # are looked for after 2 s instead of minutes.
    monkeypatch.setattr(outbox_service, "REDISPATCH_AFTER", outbox_service.timedelta(seconds=2))
    monkeypatch.setattr(webhook_jobs, "REDISPATCH_AFTER", outbox_service.timedelta(seconds=2))
    runtime = build_runtime(_settings(clean_pg_url, redis_url))
    runtime_module.install(runtime)
    workers = Workers(clean_pg_url, redis_url)

    async def scheduler() -> None:
        while True:
            with contextlib.suppress(Exception):
                await outbox_service.relay(session_factory=runtime.session_factory, queue=runtime.queue)
                await webhook_jobs.sweep_due_deliveries()
            await asyncio.sleep(0.2)

    task = asyncio.get_running_loop().create_task(scheduler())
    try:
        yield runtime, workers
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        workers.stop()
        await runtime.session_factory.kw["bind"].dispose()
        if runtime.redis is not None:
            await runtime.redis.aclose()
        runtime.queue.connection.close()  # type: ignore[attr-defined]


async def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def test_nothing_is_lost_across_a_kill_dash_nine_and_a_redis_flush(
    stack: tuple[Runtime, Workers], receiver: Receiver, redis_url: str
) -> None:
    runtime, workers = stack
    receiver.script = [503, 503, 502, 503, 500, 503]  # down for the first six answers, then up
    factory = runtime.session_factory
    async with factory() as session:
        merchant = Merchant(name="Mama Mboga Ltd", created_at=datetime.now(UTC), created_by="test")
        session.add(merchant)
        await session.flush()
        _endpoint, secret = await service.create_endpoint(
            session=session,
            merchant_id=merchant.id,
            url=receiver.url,
            events=[],
            description="",
            keyring=get_keyring(runtime),
            policy=DestinationPolicy(allow_private=True, require_https=False),
            now=runtime.clock.now(),
        )
        for kind in ("invoice.processing", "invoice.settled"):
            await record_event(
                session,
                merchant_id=merchant.id,
                event_type=kind,
                object_id="inv_chaos",
                payload={"invoice_id": "inv_chaos", "status": kind.split(".")[1]},
                idempotency_key=f"inv_chaos:{kind}",
            )
        await session.commit()

    first = workers.start()
    assert await _wait(lambda: len(receiver.requests) >= 3, timeout=90), (
        "the worker never reached the receiver"
    )
    workers.kill_9(first)
    Redis.from_url(redis_url).flushdb()  # every queued job, the scheduled retries' registries: gone
    workers.start()
    assert await _wait(lambda: len(receiver.delivered()) >= 2, timeout=120), [
        r.status for r in receiver.requests
    ]
    await asyncio.sleep(3)  # a duplicate, if one were coming, has time to arrive

    got = receiver.delivered()
    assert Counter(r.event["type"] for r in got) == {"invoice.processing": 1, "invoice.settled": 1}
    for request in got:
        assert verify(secret, request.body, request.headers["Kibeti-Signature"], now=time.time())
    async with factory() as session:
        deliveries = list((await session.execute(select(WebhookDelivery))).scalars())
        attempts = list((await session.execute(select(WebhookAttempt))).scalars())
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED.value}
    # every request the receiver saw is one logged attempt (a killed attempt may have no row)
    seen = Counter(r.headers["Kibeti-Delivery-Id"] for r in receiver.requests)
    logged = Counter(str(a.delivery_id) for a in attempts)
    for delivery in deliveries:
        assert logged[str(delivery.id)] <= seen[str(delivery.id)] <= logged[str(delivery.id)] + 1
        assert delivery.attempts == logged[str(delivery.id)]
    assert sum(1 for a in attempts if a.outcome == "delivered") == 2
    assert len(receiver.requests) == 8  # six refusals, then one 2xx per event
