"""record_event stages one delivery (and its outbox job) per live endpoint subscribed to the event
(every event when it names none), none for a disabled, deleted or unsubscribed endpoint or another
merchant's; a second call with the same key writes nothing. On PostgreSQL the event and the endpoints
are one statement, on SQLite two: the same answer on both."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import runtime
from core.outbox.models import OutboxJob
from core.webhooks import events, service
from core.webhooks.models import WebhookDelivery, WebhookEvent
from tests.integration.webhooks.conftest import ALLOW_LOCAL, CHEAP_KEYRING, Factory, make_merchant

pytestmark = pytest.mark.usefixtures("installed")


async def test_deliveries_for_live_subscribed_endpoints_only(session_factory: Factory) -> None:
    merchant_id = await make_merchant(session_factory)
    other_id = await make_merchant(session_factory, name="Other Duka")
    now = runtime.get().clock.now()
    endpoints: dict[str, int] = {}
    async with session_factory() as session:
        for name, owner, subscribed_to in (
            ("all", merchant_id, []),
            ("created", merchant_id, ["invoice.created", "invoice.settled"]),
            ("settled", merchant_id, ["invoice.settled"]),
            ("disabled", merchant_id, []),
            ("deleted", merchant_id, []),
            ("others", other_id, []),
        ):
            endpoint, _secret = await service.create_endpoint(
                session=session, merchant_id=owner, url=f"http://127.0.0.1:9/{name}", events=subscribed_to,
                description=name, keyring=CHEAP_KEYRING, policy=ALLOW_LOCAL, now=now,
            )  # fmt: skip
            endpoints[name] = endpoint.id
        disabled = await service.get_endpoint(
            session=session, merchant_id=merchant_id, endpoint_id=endpoints["disabled"]
        )
        disabled.enabled = False
        await service.delete_endpoint(
            session=session, merchant_id=merchant_id, endpoint_id=endpoints["deleted"], now=now
        )
        await session.commit()

    for _ in range(2):  # the second call: recorded before, nothing written
        async with session_factory() as session:
            await events.record_event(
                session, merchant_id=merchant_id, event_type="invoice.created", object_id="inv_1",
                payload={"id": "inv_1", "amount": "10.00"}, idempotency_key="inv_1:invoice.created",
            )  # fmt: skip
            await session.commit()

    async with session_factory() as session:
        (event,) = (await session.execute(select(WebhookEvent))).scalars().all()
        assert (event.merchant_id, event.type, event.object_id) == (merchant_id, "invoice.created", "inv_1")
        assert event.payload == {"id": "inv_1", "amount": "10.00"}
        deliveries = (
            await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.endpoint_id))
        ).scalars()
        assert [(d.event_id, d.endpoint_id) for d in deliveries] == [
            (event.id, endpoints["all"]),
            (event.id, endpoints["created"]),
        ]
        jobs = select(func.count()).select_from(OutboxJob).where(OutboxJob.job == events.DELIVER_JOB)
        assert (await session.execute(jobs)).scalar_one() == 2
