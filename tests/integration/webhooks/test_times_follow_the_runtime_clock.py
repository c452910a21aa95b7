"""One clock: a FixedClock given to the runtime moves every timestamp its units of work write, the
ones code stamps (`clock_of(session)`) and the column defaults alike, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.clock import FixedClock, clock_of
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from core.security.models import StoredSecret
from core.webhooks import service
from core.webhooks.events import record_event
from core.webhooks.models import WebhookDelivery, WebhookEvent
from tests.integration.webhooks.conftest import (
    ALLOW_LOCAL,
    CHEAP_KEYRING,
    Factory,
    RecordingQueue,
    make_merchant,
    settings_for,
)

FIXED = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)  # long before this test runs


async def test_a_fixed_clock_moves_the_times_a_flow_writes(session_factory: Factory) -> None:
    clock = FixedClock(FIXED)
    rt = Runtime(
        settings=settings_for(), session_factory=session_factory, clock=clock, queue=RecordingQueue()
    )
    merchant_id = await make_merchant(session_factory)
    async with rt.session_factory() as session:
        assert clock_of(session) is clock
        await service.create_endpoint(
            session=session, merchant_id=merchant_id, url="http://127.0.0.1:9/hook", events=[],
            description="till 1", keyring=CHEAP_KEYRING, policy=ALLOW_LOCAL, now=rt.clock.now(),
        )  # fmt: skip
        await record_event(
            session, merchant_id=merchant_id, event_type="invoice.settled", object_id="INV1",
            payload={"amount": "100.00"}, idempotency_key="settled:INV1",
        )  # fmt: skip
        session.add(StoredSecret(name="one-clock", envelope="sealed", key_id="k1"))  # a column default
        await session.commit()
    async with rt.session_factory() as session:
        written = {
            "event": (await session.execute(select(WebhookEvent.created_at))).scalar_one(),
            "delivery": (await session.execute(select(WebhookDelivery.created_at))).scalar_one(),
            "outbox job": (await session.execute(select(OutboxJob.created_at))).scalar_one(),
            "audit entry": (await session.execute(select(AuditEntry.occurred_at))).scalar_one(),
            "column default": (
                await session.execute(select(StoredSecret.updated_at).where(StoredSecret.name == "one-clock"))
            ).scalar_one(),
        }
    assert written == dict.fromkeys(written, FIXED)


async def test_sessions_outside_a_runtime_read_the_system_clock(session_factory: Factory) -> None:
    before = datetime.now(UTC)
    async with session_factory() as session:
        session.add(StoredSecret(name="system", envelope="sealed", key_id="k1"))
        await session.commit()
        stamped = (await session.execute(select(StoredSecret.updated_at))).scalar_one()
    assert stamped >= before.replace(microsecond=0)


async def test_a_clock_set_on_the_runtime_later_is_the_sessions_clock_too(session_factory: Factory) -> None:
    rt = Runtime(
        settings=settings_for(),
        session_factory=session_factory,
        clock=FixedClock(FIXED),
        queue=RecordingQueue(),
    )
    later = FixedClock(FIXED.replace(year=2022))
    rt.clock = later
    async with rt.session_factory() as session:
        assert clock_of(session) is later
    rt.session_factory = session_factory
    async with rt.session_factory() as session:
        assert clock_of(session) is later
