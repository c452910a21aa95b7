"""Endpoints, deliveries and the delivery log. Keyword-only; the caller's session owns the transaction.

The delivery job (channels.webhooks.jobs) drives a delivery through `claim_delivery` (lease it,
in one short transaction), the HTTP request (outside any transaction), then `record_attempt`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.outbox import service as outbox
from core.security import envelope
from core.security import service as secret_store
from core.security.envelope import Keyring
from core.webhooks.destinations import DestinationPolicy, parse_target
from core.webhooks.errors import (
    InvalidWebhookEndpoint,
    TooManyWebhookEndpoints,
    UnknownWebhookDelivery,
    UnknownWebhookEndpoint,
)
from core.webhooks.events import (
    DELIVER_JOB,
    WEBHOOK_QUEUE,
    EventType,
    dispatch_key,
    new_public_id,
    parse_event_type,
    stage_delivery,
)
from core.webhooks.models import (
    AttemptOutcome,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

MAX_ENDPOINTS_PER_MERCHANT = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SNIPPET_CHARS = 500
# Processes' clocks differ a little: a delivery due this much later is due now.
CLOCK_SKEW = timedelta(seconds=5)
MAX_RETRY_AFTER_S = 86_400


def secret_context(endpoint_id: int) -> str:
    """Binds a sealed signing secret to its endpoint row: it cannot be moved to another endpoint."""
    return f"webhook-endpoint:{endpoint_id}"


def _clean_events(events: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for text in events:
        kind = parse_event_type(text)
        if kind is EventType.TEST:
            raise InvalidWebhookEndpoint(f"{kind.value} is sent on request only; it cannot be subscribed to")
        if kind.value not in chosen:
            chosen.append(kind.value)
    return chosen


async def create_endpoint(
    *,
    session: AsyncSession,
    merchant_id: int,
    url: str,
    events: Sequence[str],
    description: str,
    keyring: Keyring,
    policy: DestinationPolicy,
    now: datetime,
    actor: str = "system",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned this once; stored sealed). The URL's form is
    checked here; its resolution (`destinations.resolve`) is the caller's, before this is called.
    An empty `events` subscribes to every event."""
    target = parse_target(url, policy)
    chosen = _clean_events(events)
    if len(description) > 200:
        raise InvalidWebhookEndpoint("a description has at most 200 characters")
    count = len(await list_endpoints(session=session, merchant_id=merchant_id))
    if count >= MAX_ENDPOINTS_PER_MERCHANT:
        raise TooManyWebhookEndpoints(
            f"a merchant may register at most {MAX_ENDPOINTS_PER_MERCHANT} endpoints"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        merchant_id=merchant_id,
        url=target.url,
        events=chosen,
        description=description.strip(),
        secret_envelope="",
        secret_hint=secret[-4:],
        enabled=True,
        disabled_reason="",
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    endpoint.secret_envelope = envelope.seal(secret, keyring=keyring, context=secret_context(endpoint.id))
    await session.flush()
    await _audit(session, actor, "webhook_endpoint.created", endpoint, url=endpoint.url, events=chosen)
    return endpoint, secret


async def _audit(
    session: AsyncSession, actor: str, action: str, endpoint: WebhookEndpoint, **details: Any
) -> None:
    await audit.record(
        session=session,
        actor=actor,
        action=action,
        subject=f"merchant:{endpoint.merchant_id}",
        details={"endpoint_id": endpoint.id, **details},
    )


ROLL_OVERLAP = timedelta(hours=24)


async def roll_secret(
    *,
    session: AsyncSession,
    merchant_id: int,
    endpoint_id: int,
    keyring: Keyring,
    now: datetime,
    overlap: timedelta = ROLL_OVERLAP,
    actor: str = "system",
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned this once). The old one keeps signing beside it for
    `overlap`, so the merchant's servers can switch over without missing a delivery."""
    endpoint = await get_endpoint(session=session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint.previous_secret_envelope = endpoint.secret_envelope
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.secret_envelope = envelope.seal(secret, keyring=keyring, context=secret_context(endpoint.id))
    endpoint.secret_hint = secret[-4:]
    await session.flush()
    await _audit(
        session,
        actor,
        "webhook_endpoint.secret_rolled",
        endpoint,
        previous_valid_until=(now + overlap).isoformat(),
    )
    return endpoint, secret


def endpoint_secret(endpoint: WebhookEndpoint, *, keyring: Keyring) -> str:
    return envelope.open(
        endpoint.secret_envelope, keyring=keyring, context=secret_context(endpoint.id)
    ).decode()


async def list_endpoints(*, session: AsyncSession, merchant_id: int) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
    )
    return list((await session.execute(query)).scalars())


async def get_endpoint(*, session: AsyncSession, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.merchant_id != merchant_id or endpoint.deleted_at is not None:
        raise UnknownWebhookEndpoint(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def delete_endpoint(
    *, session: AsyncSession, merchant_id: int, endpoint_id: int, now: datetime, actor: str = "system"
) -> None:
    """Soft delete (its delivery log stays); its pending deliveries stop."""
    endpoint = await get_endpoint(session=session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    endpoint.deleted_at, endpoint.enabled, endpoint.disabled_reason = now, False, "deleted"
    await _stop_pending(session, endpoint_id=endpoint.id, reason="endpoint_deleted", now=now)
    await session.flush()
    await _audit(session, actor, "webhook_endpoint.deleted", endpoint)


async def enable_endpoint(
    *, session: AsyncSession, merchant_id: int, endpoint_id: int, actor: str = "system"
) -> WebhookEndpoint:
    """Turn a disabled endpoint back on (its failed deliveries can then be redelivered)."""
    endpoint = await get_endpoint(session=session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, "", None
    await session.flush()
    await _audit(session, actor, "webhook_endpoint.enabled", endpoint)
    return endpoint


async def _stop_pending(session: AsyncSession, *, endpoint_id: int, reason: str, now: datetime) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.FAILED.value, last_error=reason, finished_at=now, next_attempt_at=None)
    )


# --- deliveries as the merchant sees them ---------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    event: WebhookEvent


async def list_deliveries(
    *,
    session: AsyncSession,
    merchant_id: int,
    endpoint_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Newest first; `before_id` is the cursor (the last id of the previous page)."""
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(max(1, min(limit, 101)))
    )
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return [DeliveryView(delivery=row[0], event=row[1]) for row in (await session.execute(query)).all()]


async def get_delivery(*, session: AsyncSession, merchant_id: int, delivery_id: int) -> DeliveryView:
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id, WebhookEndpoint.merchant_id == merchant_id)
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise UnknownWebhookDelivery(f"no webhook delivery {delivery_id}")
    return DeliveryView(delivery=row[0], event=row[1])


async def attempts_of(*, session: AsyncSession, delivery_id: int) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return list((await session.execute(query)).scalars())


async def redeliver(
    *, session: AsyncSession, merchant_id: int, delivery_id: int, now: datetime
) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery (the old log stays)."""
    view = await get_delivery(session=session, merchant_id=merchant_id, delivery_id=delivery_id)
    endpoint = await get_endpoint(
        session=session, merchant_id=merchant_id, endpoint_id=view.delivery.endpoint_id
    )
    if not endpoint.enabled:
        raise InvalidWebhookEndpoint("the endpoint is disabled: enable it before redelivering")
    return await stage_delivery(
        session, event_id=view.event.id, endpoint_id=endpoint.id, now=now, redelivery_of=view.delivery.id
    )


async def send_test(
    *, session: AsyncSession, merchant_id: int, endpoint_id: int, now: datetime
) -> WebhookDelivery:
    """A `webhook.test` event delivered to this one endpoint (enabled or not)."""
    endpoint = await get_endpoint(session=session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    event = WebhookEvent(
        public_id=new_public_id(),
        merchant_id=merchant_id,
        type=EventType.TEST.value,
        object_id=f"we_{endpoint.id}",
        payload={"message": "A test event from Kibeti. Your endpoint received it."},
        idempotency_key=f"test:{secrets.token_hex(12)}",
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return await stage_delivery(session, event_id=event.id, endpoint_id=endpoint.id, now=now)


# --- the wire format ---------------------------------------------------------------------------


def event_body(event: WebhookEvent) -> bytes:
    """The JSON body sent for an event: the same bytes on every attempt (the signature covers them)."""
    document: dict[str, Any] = {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "merchant_id": event.merchant_id,
        "object_id": event.object_id,
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


# --- the delivery job's side -------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What one attempt needs, read in the claiming transaction."""

    delivery_id: int
    endpoint_id: int
    event_public_id: str
    event_type: str
    number: int  # this attempt's number, from 1
    url: str
    secret_envelope: str
    body: bytes
    previous_secret_envelope: str = ""  # a rolled secret still within its overlap: it signs too


async def claim_delivery(
    *, session: AsyncSession, delivery_id: int, now: datetime, lease: timedelta
) -> Claim | None:
    """Lease a due, pending delivery for one attempt; None when there is nothing to do now (done,
    not yet due, or another job holds it). A delivery whose endpoint is off fails here."""
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    delivery = (await session.execute(query)).scalar_one_or_none()
    if delivery is None or delivery.status != DeliveryStatus.PENDING.value:
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + CLOCK_SKEW:
        delivery.dispatched_at = None  # early: the sweep dispatches it again when it is due
        return None
    if delivery.leased_until is not None and delivery.leased_until > now:
        return None
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    event = await session.get(WebhookEvent, delivery.event_id)
    if endpoint is None or event is None:
        return None
    if not endpoint.enabled and event.type != EventType.TEST.value:
        delivery.status, delivery.finished_at = DeliveryStatus.FAILED.value, now
        delivery.last_error = "endpoint_deleted" if endpoint.deleted_at else "endpoint_disabled"
        delivery.next_attempt_at = None
        return None
    delivery.leased_until = now + lease
    return Claim(
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        event_public_id=event.public_id,
        event_type=event.type,
        number=delivery.attempts + 1,
        url=endpoint.url,
        secret_envelope=endpoint.secret_envelope,
        body=event_body(event),
        previous_secret_envelope=(
            endpoint.previous_secret_envelope or ""
            if endpoint.previous_secret_expires_at is not None and endpoint.previous_secret_expires_at > now
            else ""
        ),
    )


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    started_at: datetime
    latency_ms: int
    status_code: int | None = None
    error: str = ""
    response_snippet: str = ""
    retry_after_s: int | None = None  # the receiver's Retry-After (429, 503), in seconds


def retryable_status(status_code: int) -> bool:
    """Worth trying again: 408, 429 and 5xx. Any other non-2xx answer is the receiver's final word."""
    return status_code in (408, 429) or 500 <= status_code <= 599


def next_attempt_delay(attempts_made: int, schedule: Sequence[float], jitter: float) -> timedelta | None:
    """The wait after the `attempts_made`-th failed attempt, stretched by `jitter` (0..1, a random
    fraction of up to 20 %); None once the schedule is used up."""
    if attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    return timedelta(seconds=base * (1 + 0.2 * min(max(jitter, 0.0), 1.0)))


def quiet_gap(schedule: Sequence[float]) -> timedelta:
    """Longer than any wait between two attempts of a delivery (its longest step, jittered)."""
    return timedelta(seconds=max(schedule, default=0) * 1.2) + timedelta(hours=1)


@dataclass(frozen=True)
class Step:
    """Where a delivery goes after an attempt, and what it says about its endpoint."""

    status: DeliveryStatus
    next_attempt_at: datetime | None
    failing_since: datetime | None  # the endpoint's first failure since its last success
    disable_endpoint: bool


def next_step(
    *,
    outcome: AttemptOutcome,
    attempts_made: int,
    schedule: Sequence[float],
    jitter: float,
    retry_after_s: int | None,
    failing_since: datetime | None,
    endpoint_enabled: bool,
    disable_after: timedelta,
    now: datetime,
    last_attempt_at: datetime | None = None,
) -> Step:
    """The delivery state machine, pure. Delivered and failed are final; a retryable failure waits
    its step of the schedule (or the receiver's longer Retry-After, up to a day) until the schedule
    is used up; an endpoint failing for `disable_after` is turned off and the delivery fails (a
    failing spell ends with a success, or with a pause longer than any retry waits: the endpoint's
    previous attempt, `last_attempt_at`, was longer ago than `quiet_gap`)."""
    if outcome is AttemptOutcome.DELIVERED:
        return Step(DeliveryStatus.DELIVERED, None, None, False)
    if last_attempt_at is not None and now - last_attempt_at > quiet_gap(schedule):
        failing_since = None  # nothing was sent for longer than any retry waits: a new failing spell
    disable = failing_since is not None and endpoint_enabled and now - failing_since >= disable_after
    failing = failing_since or now
    delay = next_attempt_delay(attempts_made, schedule, jitter) if outcome is AttemptOutcome.RETRY else None
    if delay is not None and retry_after_s:  # the receiver asked for longer: honour it, up to a day
        delay = max(delay, timedelta(seconds=min(retry_after_s, MAX_RETRY_AFTER_S)))
    if delay is None or disable:
        return Step(DeliveryStatus.FAILED, None, failing, disable)
    return Step(DeliveryStatus.PENDING, now + delay, failing, False)


async def record_attempt(
    *,
    session: AsyncSession,
    claim: Claim,
    result: AttemptResult,
    schedule: Sequence[float],
    jitter: float,
    disable_after: timedelta,
    now: datetime,
) -> bool:
    """Log the attempt and move the delivery on: delivered, retried later or failed. Returns True
    when this failure turned the endpoint off (it has failed for `disable_after`)."""
    query = select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    delivery = (await session.execute(query)).scalar_one()
    endpoint = await session.get(WebhookEndpoint, claim.endpoint_id)
    assert endpoint is not None
    already = await session.execute(
        select(WebhookAttempt.id).where(
            WebhookAttempt.delivery_id == delivery.id, WebhookAttempt.number == claim.number
        )
    )
    if already.first() is not None or delivery.status == DeliveryStatus.DELIVERED.value:
        return False  # a slower twin of this attempt already recorded it (lease ran out)
    last_attempt_at = (
        await session.execute(
            select(func.max(WebhookAttempt.started_at))
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
        )
    ).scalar_one_or_none()
    stopped = delivery.status == DeliveryStatus.FAILED.value  # endpoint turned off meanwhile
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=claim.number,
            started_at=result.started_at,
            outcome=result.outcome.value,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:200],
            response_snippet=result.response_snippet[:SNIPPET_CHARS],
        )
    )
    delivery.attempts = claim.number
    delivery.leased_until = None
    delivery.dispatched_at = None
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error[:200]
    if stopped and result.outcome is not AttemptOutcome.DELIVERED:
        await session.flush()
        return False
    step = next_step(
        outcome=result.outcome,
        attempts_made=claim.number,
        schedule=schedule,
        jitter=jitter,
        retry_after_s=result.retry_after_s,
        failing_since=endpoint.failing_since,
        endpoint_enabled=endpoint.enabled,
        disable_after=disable_after,
        now=now,
        last_attempt_at=last_attempt_at,
    )
    delivery.status, delivery.next_attempt_at = step.status.value, step.next_attempt_at
    if step.status is not DeliveryStatus.PENDING:
        delivery.finished_at = now
    endpoint.failing_since = step.failing_since
    disabled = step.disable_endpoint
    if disabled:
        endpoint.enabled, endpoint.disabled_reason = False, "failing"
        await _stop_pending(session, endpoint_id=endpoint.id, reason="endpoint_disabled", now=now)
    await session.flush()
    return disabled


async def dispatch_due(
    *, session: AsyncSession, now: datetime, redispatch_after: timedelta, limit: int = 500
) -> int:
    """Stage an outbox job for every pending delivery that is due, not leased, and not dispatched
    recently (a job lost with Redis or with a killed worker is dispatched again). Returns how many."""
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at.is_(None) | (WebhookDelivery.next_attempt_at <= now),
            (WebhookDelivery.leased_until.is_(None)) | (WebhookDelivery.leased_until <= now),
            (WebhookDelivery.dispatched_at.is_(None))
            | (WebhookDelivery.dispatched_at <= now - redispatch_after),
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.execute(query)).scalars().all()
    for delivery in rows:
        delivery.dispatches += 1
        delivery.dispatched_at = now
        await outbox.enqueue(
            session=session,
            job=DELIVER_JOB,
            kwargs={"delivery_id": delivery.id},
            dedupe_key=dispatch_key(delivery.id, delivery.dispatches),
            queue=WEBHOOK_QUEUE,
        )
    await session.flush()
    return len(rows)


async def rotate_secret_envelopes(*, session: AsyncSession, keyring: Keyring) -> dict[str, int]:
    """Re-seal every endpoint's signing secret (current and previous) under the current key; how many
    changed per column ("webhook_endpoints.secret_envelope": n, ...)."""
    changed: dict[str, int] = {}
    for attribute in ("secret_envelope", "previous_secret_envelope"):
        changed[f"{WebhookEndpoint.__tablename__}.{attribute}"] = await secret_store.rotate_envelopes(
            session=session,
            model=WebhookEndpoint,
            attribute=attribute,
            context_of=lambda endpoint: secret_context(endpoint.id),
            keyring=keyring,
        )
    return changed
