"""Webhook deliveries on both databases, driven through the outbox runner with a clock the test moves:
signatures a receiver verifies on its own, retries on the schedule until the receiver is back (then
exactly one delivery), no retry after a 400, the attempt log, redelivery, the 3-day switch-off with
its SMS, and SSRF refusals at send time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from channels.webhooks import jobs
from core import telemetry
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from core.webhooks import service
from core.webhooks.errors import UnknownEventType
from core.webhooks.events import DELIVER_JOB, EventType, record_event
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.integration.webhooks.conftest import (
    ALLOW_LOCAL,
    CHEAP_KEYRING,
    Factory,
    make_merchant,
    run_staged_deliveries,
    settings_for,
)
from tests.integration.webhooks.receiver import DROP, Receiver, verify
from webapp.observability.metrics import count_event

pytestmark = pytest.mark.usefixtures("installed")


async def _endpoint(
    factory: Factory, merchant_id: int, url: str, events: list[str] | None = None
) -> tuple[int, str]:
    async with factory() as session:
        endpoint, secret = await service.create_endpoint(
            session=session,
            merchant_id=merchant_id,
            url=url,
            events=events or [],
            description="till 1",
            keyring=CHEAP_KEYRING,
            policy=ALLOW_LOCAL,
            now=_now(),
        )
        await session.commit()
        return endpoint.id, secret


def _now():
    from core import runtime

    return runtime.get().clock.now()


async def _record(factory: Factory, merchant_id: int, kind: str, invoice: str = "inv_1") -> None:
    async with factory() as session:
        await record_event(
            session,
            merchant_id=merchant_id,
            event_type=kind,
            object_id=invoice,
            payload={"invoice_id": invoice, "amount": {"currency": "KES", "value": "2500.00"}},
            idempotency_key=f"{invoice}:{kind}",
        )
        await session.commit()


async def _deliveries(factory: Factory) -> list[WebhookDelivery]:
    async with factory() as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


def _attempts_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("kibeti_webhook_attempts_total", {"outcome": outcome}) or 0.0


async def _advance_and_run(installed: Runtime, factory: Factory, seconds: float) -> None:
    installed.clock.advance(seconds=seconds)  # type: ignore[attr-defined]
    await jobs.sweep_due_deliveries()
    await run_staged_deliveries(factory)


async def test_processing_and_settled_reach_the_receiver_signed(
    session_factory: Factory, merchant_id: int, receiver: Receiver
) -> None:
    _id, secret = await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.processing")
    await _record(session_factory, merchant_id, "invoice.settled")
    await _record(session_factory, merchant_id, "invoice.settled")  # the same change twice: one event
    assert await run_staged_deliveries(session_factory) == 2
    got = receiver.delivered()
    assert [r.event["type"] for r in got] == ["invoice.processing", "invoice.settled"]
    for request in got:
        header = request.headers["Kibeti-Signature"]
        assert verify(secret, request.body, header, now=time.time())
        assert not verify("whsec_someone_else", request.body, header, now=time.time())
        assert not verify(secret, request.body + b" ", header, now=time.time())
        assert request.event["data"]["amount"] == {"currency": "KES", "value": "2500.00"}
        assert request.event["object_id"] == "inv_1"
        assert request.headers["Kibeti-Event-Id"] == request.event["id"]
    assert {d.status for d in await _deliveries(session_factory)} == {DeliveryStatus.DELIVERED.value}
    assert await run_staged_deliveries(session_factory) == 0  # every outbox row is done


async def test_only_subscribed_enabled_endpoints_of_that_merchant_get_a_delivery(
    session_factory: Factory, merchant_id: int, receiver: Receiver
) -> None:
    other_merchant = await make_merchant(session_factory, name="Another Shop")
    settled_only, _ = await _endpoint(session_factory, merchant_id, receiver.url, ["invoice.settled"])
    everything, _ = await _endpoint(session_factory, merchant_id, receiver.url)
    await _endpoint(session_factory, other_merchant, receiver.url)
    await _record(session_factory, merchant_id, "invoice.created")
    await _record(session_factory, merchant_id, "invoice.settled")
    pairs = sorted((d.endpoint_id, d.event_id) for d in await _deliveries(session_factory))
    async with session_factory() as session:
        events = {e.type: e.id for e in (await session.execute(select(WebhookEvent))).scalars()}
    assert pairs == sorted(
        [
            (everything, events["invoice.created"]),
            (everything, events["invoice.settled"]),
            (settled_only, events["invoice.settled"]),
        ]
    )


async def test_an_unknown_event_type_writes_nothing(session_factory: Factory, merchant_id: int) -> None:
    async with session_factory() as session:
        with pytest.raises(UnknownEventType):
            await record_event(
                session,
                merchant_id=merchant_id,
                event_type="invoice.paid",
                object_id="x",
                payload={},
                idempotency_key="k",
            )
        assert (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar_one() == 0


async def test_receiver_down_for_three_attempts_then_up_gets_it_exactly_once(
    session_factory: Factory,
    merchant_id: int,
    receiver: Receiver,
    installed: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.script = [503, DROP, 429]
    monkeypatch.setattr(telemetry, "_sink", count_event)  # what webapp.bootstrap installs: Prometheus
    before = {o: _attempts_counted(o) for o in ("delivered", "retry")}
    _id, secret = await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.settled")
    await run_staged_deliveries(session_factory)
    [delivery] = await _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.PENDING.value and delivery.attempts == 1
    assert timedelta(seconds=10) <= delivery.next_attempt_at - installed.clock.now() <= timedelta(seconds=12)

    await jobs.sweep_due_deliveries()  # not due yet: nothing staged, nothing sent
    assert await run_staged_deliveries(session_factory) == 0
    await _advance_and_run(installed, session_factory, 13)  # 2nd attempt: the connection drops
    await _advance_and_run(installed, session_factory, 30)  # not due (1 min after the 2nd)
    assert len(receiver.requests) == 2
    await _advance_and_run(installed, session_factory, 45)  # 3rd: 429
    await _advance_and_run(installed, session_factory, 721)  # 4th: up
    await _advance_and_run(installed, session_factory, 86_400 * 4)  # nothing left to send
    assert [r.status for r in receiver.requests] == [503, DROP, 429, 200]
    assert len(receiver.delivered()) == 1
    assert verify(
        secret,
        receiver.delivered()[0].body,
        receiver.delivered()[0].headers["Kibeti-Signature"],
        now=time.time() + 900,
    )
    [delivery] = await _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.DELIVERED.value
    async with session_factory() as session:
        log = await service.attempts_of(session=session, delivery_id=delivery.id)
    assert [(a.number, a.outcome, a.status_code) for a in log] == [
        (1, "retry", 503),
        (2, "retry", None),
        (3, "retry", 429),
        (4, "delivered", 200),
    ]
    assert log[1].error.startswith("network:")
    assert {o: _attempts_counted(o) - before[o] for o in before} == {"delivered": 1, "retry": 3}
    assert log[3].response_snippet == '{"ok": true}'
    assert all(a.latency_ms >= 0 for a in log)


async def test_a_400_is_final_and_not_retried(
    session_factory: Factory, merchant_id: int, receiver: Receiver, installed: Runtime
) -> None:
    receiver.script = [400]
    await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.expired")
    await run_staged_deliveries(session_factory)
    for _ in range(5):
        await _advance_and_run(installed, session_factory, 86_400)
    assert [r.status for r in receiver.requests] == [400]
    [delivery] = await _deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.FAILED.value,
        1,
        400,
    )
    async with session_factory() as session:
        [attempt] = await service.attempts_of(session=session, delivery_id=delivery.id)
    assert attempt.response_snippet == "receiver says no"


async def test_manual_redeliver_sends_the_same_event_again_as_a_new_delivery(
    session_factory: Factory, merchant_id: int, receiver: Receiver
) -> None:
    receiver.script = [400]
    await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.paid_partial")
    await run_staged_deliveries(session_factory)
    [first] = await _deliveries(session_factory)
    async with session_factory() as session:
        again = await service.redeliver(
            session=session, merchant_id=merchant_id, delivery_id=first.id, now=_now()
        )
        await session.commit()
    await run_staged_deliveries(session_factory)
    assert [r.status for r in receiver.requests] == [400, 200]
    assert receiver.requests[0].event["id"] == receiver.requests[1].event["id"]  # same event, dedupe-able
    rows = {d.id: d for d in await _deliveries(session_factory)}
    assert (
        rows[again.id].status == DeliveryStatus.DELIVERED.value and rows[again.id].redelivery_of == first.id
    )


async def test_an_endpoint_failing_for_three_days_is_disabled_and_the_merchant_told_by_sms(
    session_factory: Factory, receiver: Receiver, installed: Runtime
) -> None:
    merchant = await make_merchant(session_factory, notification_phones=["+254712000001"], language="sw")
    receiver.script = [500] * 50
    endpoint_id, _ = await _endpoint(session_factory, merchant, receiver.url)
    await _record(session_factory, merchant, "invoice.created", "inv_a")
    await run_staged_deliveries(session_factory)
    for _ in range(6):  # past 10 s, 1 min, 10 min, 1 h, 6 h, 24 h, 24 h: about 3.3 days
        await _advance_and_run(installed, session_factory, 25 * 3600)
    async with session_factory() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None and not endpoint.enabled and endpoint.disabled_reason == "failing"
    [delivery] = await _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.FAILED.value
    async with session_factory() as session:
        tells = (
            (await session.execute(select(OutboxJob).where(OutboxJob.job == jobs.TELL_DISABLED_JOB)))
            .scalars()
            .all()
        )
    assert len(tells) == 1
    await jobs.tell_merchant_endpoint_disabled(endpoint_id=endpoint_id)
    [sms] = installed.notifier.sent  # type: ignore[union-attr]
    assert sms["phone"] == "+254712000001" and receiver.url[:30] in sms["text"]
    assert "imezimwa" in sms["text"]  # Swahili, the merchant's language
    requests_before = len(receiver.requests)
    await _record(session_factory, merchant, "invoice.settled", "inv_b")  # a disabled endpoint gets nothing
    await _advance_and_run(installed, session_factory, 60)
    assert len(receiver.requests) == requests_before


async def test_a_destination_refused_at_send_time_fails_without_a_request(
    session_factory: Factory, merchant_id: int, receiver: Receiver, installed: Runtime
) -> None:
    """Registered while private addresses were allowed; production-like settings refuse to send."""
    await _endpoint(session_factory, merchant_id, receiver.url)
    installed.settings = settings_for(webhook_allow_private_destinations=False)
    await _record(session_factory, merchant_id, "invoice.invalid")
    await run_staged_deliveries(session_factory)
    assert receiver.requests == []
    [delivery] = await _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.FAILED.value
    assert delivery.last_error.startswith("webhook_destination_refused")


async def test_test_send_reaches_one_endpoint(
    session_factory: Factory, merchant_id: int, receiver: Receiver
) -> None:
    endpoint_id, secret = await _endpoint(session_factory, merchant_id, receiver.url, ["invoice.settled"])
    async with session_factory() as session:
        await service.send_test(session=session, merchant_id=merchant_id, endpoint_id=endpoint_id, now=_now())
        await session.commit()
    await run_staged_deliveries(session_factory)
    [got] = receiver.delivered()
    assert got.event["type"] == EventType.TEST.value
    assert verify(secret, got.body, got.headers["Kibeti-Signature"], now=time.time())
    async with session_factory() as session:
        assert (
            await session.execute(
                select(func.count()).select_from(OutboxJob).where(OutboxJob.job == DELIVER_JOB)
            )
        ).scalar_one() == 1


async def test_a_receiver_asking_for_time_with_retry_after_gets_it(
    session_factory: Factory, merchant_id: int, receiver: Receiver, installed: Runtime
) -> None:
    receiver.script = [429, 503]
    receiver.retry_after = {429: "300", 503: "Wed, 21 Oct 2026 07:28:00 GMT"}
    await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.created")
    await run_staged_deliveries(session_factory)
    [delivery] = await _deliveries(session_factory)
    assert delivery.next_attempt_at - installed.clock.now() >= timedelta(seconds=300)  # not 10 s
    await _advance_and_run(installed, session_factory, 200)
    assert len(receiver.requests) == 1
    await _advance_and_run(installed, session_factory, 101)  # 503 with a date: the schedule (1 min)
    [delivery] = await _deliveries(session_factory)
    assert timedelta(seconds=60) <= delivery.next_attempt_at - installed.clock.now() <= timedelta(seconds=72)
    await _advance_and_run(installed, session_factory, 73)
    assert [r.status for r in receiver.requests] == [429, 503, 200]


async def test_one_old_failure_does_not_switch_an_endpoint_off_days_later(
    session_factory: Factory, merchant_id: int, receiver: Receiver, installed: Runtime
) -> None:
    receiver.script = [400, 400]
    endpoint_id, _ = await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.expired", "inv_old")
    await run_staged_deliveries(session_factory)
    installed.clock.advance(days=4)  # type: ignore[attr-defined]
    await _record(session_factory, merchant_id, "invoice.expired", "inv_new")
    await run_staged_deliveries(session_factory)
    async with session_factory() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None and endpoint.enabled
        assert endpoint.failing_since == installed.clock.now()  # a new failing spell
    assert [r.status for r in receiver.requests] == [400, 400]


async def test_the_same_delivery_dispatched_twice_at_once_is_sent_once(
    session_factory: Factory, merchant_id: int, receiver: Receiver
) -> None:
    """The outbox delivers at least once (a flushed Redis, a relay racing a sweep): two jobs for
    one delivery at the same moment make one request, the lease keeps the second out."""
    receiver.delay = 0.5
    await _endpoint(session_factory, merchant_id, receiver.url)
    await _record(session_factory, merchant_id, "invoice.settled")
    [delivery] = await _deliveries(session_factory)
    await asyncio.gather(*(jobs.deliver(delivery_id=delivery.id) for _ in range(3)))
    assert len(receiver.requests) == 1
    [delivery] = await _deliveries(session_factory)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED.value, 1)
