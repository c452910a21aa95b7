"""Webhook jobs: deliver one delivery (an outbox job), sweep for due retries (periodic), and tell a
merchant by SMS that an endpoint was turned off.

Every job is idempotent. A delivery's schedule is in PostgreSQL (`next_attempt_at`): after a worker
is killed or Redis is flushed, `sweep_due_deliveries` stages the due deliveries again, and the lease
taken by `claim_delivery` keeps two jobs from sending the same attempt at once.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from channels.webhooks import sender
from core import runtime, telemetry
from core.config import Settings
from core.i18n.catalog import translate
from core.outbox import service as outbox
from core.outbox.jobs import marks_row_done
from core.runtime import Runtime
from core.security import envelope
from core.webhooks import queries, service
from core.webhooks.destinations import DestinationPolicy
from core.webhooks.events import WEBHOOK_QUEUE
from core.webhooks.service import secret_context

log = logging.getLogger(__name__)

TELL_DISABLED_JOB = "channels.webhooks.jobs.tell_merchant_endpoint_disabled"
# the scheduler's sweep runs beside the deliveries it stages (webapp.scheduler.queue_of reads this)
JOB_QUEUES = {"channels.webhooks.jobs.sweep_due_deliveries": WEBHOOK_QUEUE}
# A dispatched delivery not leased within this long is dispatched again (its job was lost).
REDISPATCH_AFTER = timedelta(seconds=120)


def _keyring(rt: Runtime) -> envelope.Keyring:
    assert rt.keyring is not None  # Runtime.__post_init__ sets it
    return rt.keyring()


def lease_for(settings: Settings) -> timedelta:
    """Long enough for one request to time out, with room to record it."""
    return timedelta(seconds=2 * settings.webhook_timeout_seconds + 10)


@marks_row_done
async def deliver(delivery_id: int, outbox_id: int | None = None) -> None:
    """Make the delivery's next attempt if it is due and nobody else is making it."""
    rt = runtime.get()
    settings = rt.settings
    async with rt.session_factory() as session:
        claim = await service.claim_delivery(
            session=session, delivery_id=delivery_id, now=rt.clock.now(), lease=lease_for(settings)
        )
        if claim is None and outbox_id is not None:
            await outbox.mark_done(session=session, outbox_id=outbox_id)
        await session.commit()
    if claim is None:
        return
    context = secret_context(claim.endpoint_id)
    secret = envelope.open(claim.secret_envelope, keyring=_keyring(rt), context=context).decode()
    previous = ""
    if claim.previous_secret_envelope:
        previous = envelope.open(
            claim.previous_secret_envelope, keyring=_keyring(rt), context=context
        ).decode()
    result = await sender.attempt(
        claim,
        secret=secret,
        previous_secret=previous,
        policy=DestinationPolicy.from_settings(settings),
        request_timeout_s=settings.webhook_timeout_seconds,
        started_at=rt.clock.now(),
    )
    async with rt.session_factory() as session:
        disabled = await service.record_attempt(
            session=session,
            claim=claim,
            result=result,
            schedule=settings.webhook_retry_schedule_seconds,
            jitter=secrets.randbelow(1001) / 1000,
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
            now=rt.clock.now(),
        )
        if disabled:
            await outbox.enqueue(
                session=session,
                job=TELL_DISABLED_JOB,
                kwargs={"endpoint_id": claim.endpoint_id},
                dedupe_key=f"webhook-endpoint-disabled:{claim.endpoint_id}:{claim.delivery_id}",
            )
        if outbox_id is not None:
            await outbox.mark_done(session=session, outbox_id=outbox_id)
        await session.commit()
    telemetry.count("webhook.attempt", outcome=result.outcome.value)
    log.info(
        "webhook attempt",
        extra={
            "delivery_id": claim.delivery_id,
            "attempt": claim.number,
            "outcome": result.outcome.value,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
        },
    )


async def sweep_due_deliveries() -> int:
    """Stage every due delivery whose job is not in flight (retries, and jobs Redis lost)."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        staged = await service.dispatch_due(
            session=session, now=rt.clock.now(), redispatch_after=REDISPATCH_AFTER
        )
        await session.commit()
    return staged


async def tell_merchant_endpoint_disabled(endpoint_id: int) -> None:
    """SMS the merchant's notification phones that an endpoint failed for days and was turned off."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        notice = await queries.disabled_endpoint_notice(session=session, endpoint_id=endpoint_id)
    if notice is None or rt.notifier is None:
        return
    text = translate(
        "webhooks.sms.endpoint_disabled",
        notice.language,
        url=_short(notice.url),
        hours=int(rt.settings.webhook_disable_after_hours),
    )
    for index, phone in enumerate(notice.phones):
        await rt.notifier.send_sms(
            phone=phone, text=text, reference=f"webhook-disabled-{notice.endpoint_id}-{index}"
        )


def _short(url: str, limit: int = 60) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."
