"""Merchant webhook deliveries have their own queue (`webhooks`), so a slow merchant endpoint never
holds up payouts, SMS or the default queue: the first dispatch, the sweep's re-dispatch and the sweep
itself go there; the relay hands RQ that queue; a compose worker serves it; the embedded in-process
queue runs it. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update

from core import runtime
from core.outbox import service as outbox
from core.outbox.models import OutboxJob
from core.webhooks import service
from core.webhooks.events import DELIVER_JOB, EventType, record_event
from core.webhooks.models import WebhookDelivery
from tests.integration.webhooks.conftest import ALLOW_LOCAL, CHEAP_KEYRING, Factory
from webapp import scheduler
from webapp.queues import InProcessJobQueue

pytestmark = pytest.mark.usefixtures("installed")
ROOT = Path(__file__).resolve().parents[3]


class Recording:
    def __init__(self) -> None:
        self.queues: dict[str, str] = {}

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self.queues[job_id] = queue

    def is_pending(self, job_id: str) -> bool:
        return False


async def test_deliveries_go_to_the_webhooks_queue(session_factory: Factory, merchant_id: int) -> None:
    now = runtime.get().clock.now()
    async with session_factory() as session:
        await service.create_endpoint(
            session=session, merchant_id=merchant_id, url="http://127.0.0.1:9/hook", events=[],
            description="till", keyring=CHEAP_KEYRING, policy=ALLOW_LOCAL, now=now,
        )  # fmt: skip
        await record_event(
            session, merchant_id=merchant_id, event_type=EventType.INVOICE_SETTLED.value, object_id="inv_1",
            payload={"invoice_id": "inv_1"}, idempotency_key="inv_1:settled",
        )  # fmt: skip
        await session.commit()
    async with session_factory() as session, session.begin():  # its job was lost: the sweep stages it again
        await session.execute(update(WebhookDelivery).values(dispatched_at=now - timedelta(hours=1)))
        assert (
            await service.dispatch_due(session=session, now=now, redispatch_after=timedelta(minutes=2)) == 1
        )
    async with session_factory() as session:
        rows = list((await session.execute(select(OutboxJob).where(OutboxJob.job == DELIVER_JOB))).scalars())
    assert [row.queue for row in rows] == ["webhooks", "webhooks"]
    recording = Recording()
    await outbox.relay(session_factory=session_factory, queue=recording)
    assert set(recording.queues.values()) == {"webhooks"}
    assert scheduler.queue_of("channels.webhooks.jobs.sweep_due_deliveries") == "webhooks"


def test_a_compose_worker_serves_the_webhooks_queue_alone() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    served = [
        s["command"][s["command"].index("--queues") + 1].split(",")
        for s in services.values()
        if isinstance(s.get("command"), list) and s["command"][:3] == ["kibeti", "worker", "rq"]
    ]
    assert ["webhooks"] in served  # its own worker: a slow endpoint blocks no other queue
    assert all("webhooks" not in queues for queues in served if queues != ["webhooks"])


async def test_the_in_process_queue_runs_webhook_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    async def job(**kwargs: Any) -> None:
        ran.append(kwargs["delivery_id"])

    monkeypatch.setattr("webapp.queues.resolve_job", lambda dotted: job)
    queue = InProcessJobQueue()
    queue.bind(asyncio.get_running_loop())
    queue.enqueue(DELIVER_JOB, job_id="d-1", kwargs={"delivery_id": "d-1"}, queue="webhooks")
    await asyncio.sleep(0)
    await queue.drain()
    assert ran == ["d-1"]
