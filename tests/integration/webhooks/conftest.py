"""Shared set-up for the webhook tests: a merchant, a cheap envelope keyring, a local receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.merchants.models import Merchant
from core.outbox import jobs as outbox_jobs
from core.outbox.models import OutboxJob, OutboxStatus
from core.runtime import Runtime
from core.security.envelope import Keyring
from core.webhooks.destinations import DestinationPolicy
from core.webhooks.events import DELIVER_JOB
from tests.integration.webhooks.receiver import Receiver

Factory = async_sessionmaker[AsyncSession]
CHEAP_KEYRING = Keyring.from_passphrases("webhook-tests-master-passphrase", iterations=1000)
ALLOW_LOCAL = DestinationPolicy(allow_private=True, require_https=False)


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        self.sent.append({"phone": phone, "text": text, "reference": reference})


class RecordingQueue:
    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        pass

    def is_pending(self, job_id: str) -> bool:
        return False


def settings_for(**overrides: Any) -> Settings:
    return Settings(kibeti_env="test", **overrides)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def installed(session_factory: Factory) -> Iterator[Runtime]:
    current = Runtime(
        settings=settings_for(),
        session_factory=session_factory,
        clock=FixedClock(datetime.now(UTC).replace(microsecond=0)),
        queue=RecordingQueue(),
        notifier=RecordingNotifier(),
    )
    current.keyring = lambda: CHEAP_KEYRING
    runtime_module.install(current)
    yield current


async def make_merchant(factory: Factory, name: str = "Duka la Mama Njeri", **fields: Any) -> int:
    async with factory() as session:
        merchant = Merchant(name=name, created_at=datetime.now(UTC), created_by="test", **fields)
        session.add(merchant)
        await session.commit()
        return merchant.id


async def run_staged_deliveries(factory: Factory) -> int:
    """What the relay and a worker do: run every undone delivery job in the outbox, once."""
    async with factory() as session:
        rows = (
            (
                await session.execute(
                    select(OutboxJob.id).where(
                        OutboxJob.job == DELIVER_JOB, OutboxJob.status != OutboxStatus.DONE.value
                    )
                )
            )
            .scalars()
            .all()
        )
    for row_id in rows:
        await outbox_jobs.run(row_id)
    return len(rows)


@pytest.fixture
async def merchant_id(session_factory: Factory) -> AsyncIterator[int]:
    yield await make_merchant(session_factory)
