"""The webhook event types, declared once, and `record_event`: what a state change calls, in its own
transaction, so the event and its deliveries commit (or roll back) with the change that caused it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.db.raw import run_on_session_connection
from core.outbox import service as outbox
from core.webhooks.errors import UnknownEventType
from core.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

DELIVER_JOB = "channels.webhooks.jobs.deliver"
# Deliveries wait on merchants' servers (up to the webhook timeout each): their own queue and workers,
# so a slow or dead endpoint never delays payouts, SMS or the default queue's jobs.
WEBHOOK_QUEUE = "webhooks"


class EventType(StrEnum):
    INVOICE_CREATED = "invoice.created"
    INVOICE_PROCESSING = "invoice.processing"
    INVOICE_SETTLED = "invoice.settled"
    INVOICE_EXPIRED = "invoice.expired"
    INVOICE_INVALID = "invoice.invalid"
    INVOICE_PAID_PARTIAL = "invoice.paid_partial"
    INVOICE_PAID_OVER = "invoice.paid_over"
    INVOICE_PAID_LATE = "invoice.paid_late"
    REFUND_CREATED = "refund.created"
    REFUND_COMPLETED = "refund.completed"
    SETTLEMENT_CREATED = "settlement.created"
    SETTLEMENT_PAID = "settlement.paid"
    SETTLEMENT_FAILED = "settlement.failed"
    TEST = "webhook.test"  # sent on request to one endpoint ("test-send"); nobody subscribes to it


SUBSCRIBABLE: tuple[str, ...] = tuple(t.value for t in EventType if t is not EventType.TEST)


def parse_event_type(text: str) -> EventType:
    try:
        return EventType(text)
    except ValueError:
        raise UnknownEventType(
            f"unknown event type {text[:40]!r}; known: {', '.join(SUBSCRIBABLE)}"
        ) from None


# $1 public_id, $2 merchant_id, $3 type, $4 object_id, $5 payload (JSON text), $6 idempotency_key,
# $7 created_at (aware): the new event's id beside each of the merchant's live endpoints (its id and
# events, JSON text; one row of nulls when it has none), or no row when this (merchant, key) was
# recorded before. One round trip for what was an INSERT and a SELECT of whole endpoint rows.
_RECORD_EVENT_SQL = """
WITH event AS (
    INSERT INTO webhook_events (public_id, merchant_id, type, object_id, payload, idempotency_key, created_at)
    VALUES ($1, $2, $3, $4, $5::text::json, $6, $7)
    ON CONFLICT (merchant_id, idempotency_key) DO NOTHING RETURNING id
)
SELECT event.id AS event_id, endpoint.id AS endpoint_id, endpoint.events::text AS events
FROM event LEFT JOIN webhook_endpoints AS endpoint
    ON endpoint.merchant_id = $2 AND endpoint.enabled IS true AND endpoint.deleted_at IS NULL
ORDER BY endpoint.id
"""


# _RECORD_EVENT_SQL without its WITH, after which a caller's own CTEs go (SameStatement); it takes
# $1..$7: the parameters of writes made in its statement start at $8
_EVENT_CTE_AND_SELECT = _RECORD_EVENT_SQL.removeprefix("\nWITH")
assert _EVENT_CTE_AND_SELECT.startswith(" event AS (")
SAME_STATEMENT_FIRST_PARAMETER = 8


@dataclass(frozen=True)
class SameStatement:
    """Writes the caller makes in the event's own statement (PostgreSQL): `ctes` are data-modifying
    `name AS (INSERT ...)` items, comma-separated, numbering their parameters from $8 (`args`, in
    order). They run whether or not the event is new (PostgreSQL runs every data-modifying CTE)."""

    ctes: str
    args: Sequence[Any]


def new_public_id() -> str:
    return "evt_" + secrets.token_hex(12)


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored and sent: Decimals, datetimes and the like become strings."""
    safe: dict[str, Any] = json.loads(json.dumps(payload, default=str))
    return safe


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return _subscribed(endpoint.events, event_type)


def _subscribed(events: list[str], event_type: str) -> bool:
    return not events or event_type in events


async def record_event(
    session: AsyncSession,
    *,
    merchant_id: int,
    event_type: str,
    object_id: str,
    payload: dict[str, Any],
    idempotency_key: str,
    same_statement: SameStatement | None = None,
) -> None:
    """Write the event and, for each of the merchant's enabled endpoints subscribed to it, a
    delivery and its outbox job, in the caller's transaction (the caller commits). On PostgreSQL,
    `same_statement`'s writes go in the event's statement (one round trip for both; other databases:
    the caller writes them itself, and passes None).

    Idempotent: a second call with the same (merchant, idempotency_key) writes nothing."""
    kind = parse_event_type(event_type)
    now = clock_of(session).now()
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        sql, extra = _RECORD_EVENT_SQL, ()
        if same_statement is not None:
            sql = f"WITH {same_statement.ctes},{_EVENT_CTE_AND_SELECT}"
            extra = tuple(same_statement.args)
        rows = await run_on_session_connection(
            session,
            sql,
            [new_public_id(), merchant_id, kind.value, object_id[:80], json.dumps(payload, default=str),
             idempotency_key, now, *extra],  # the JSON json_safe(payload) would store
            rows=True,
        )  # fmt: skip
        for row in rows:  # none: recorded before
            if (
                row["endpoint_id"] is not None
                and kind is not EventType.TEST
                and _subscribed(json.loads(row["events"]), kind.value)
            ):
                await stage_delivery(
                    session, event_id=row["event_id"], endpoint_id=row["endpoint_id"], now=now
                )
        return
    if same_statement is not None:
        raise ValueError("same_statement is for PostgreSQL: write those rows in the session instead")
    event_id = await _insert_event(
        session,
        merchant_id=merchant_id,
        event_type=kind.value,
        object_id=object_id,
        payload=json_safe(payload),
        idempotency_key=idempotency_key,
    )
    if event_id is None:
        return
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.merchant_id == merchant_id,
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.deleted_at.is_(None),
    )
    for endpoint in (await session.execute(query.order_by(WebhookEndpoint.id))).scalars():
        if kind is not EventType.TEST and subscribed(endpoint, kind.value):
            await stage_delivery(session, event_id=event_id, endpoint_id=endpoint.id, now=now)


async def _insert_event(
    session: AsyncSession,
    *,
    merchant_id: int,
    event_type: str,
    object_id: str,
    payload: dict[str, Any],
    idempotency_key: str,
) -> int | None:
    """The new event's id, or None when this key was recorded before (nothing written). SQLite (and
    any other dialect); PostgreSQL records the event in `_RECORD_EVENT_SQL`."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(WebhookEvent)
    statement = (
        insert.values(
            public_id=new_public_id(),
            merchant_id=merchant_id,
            type=event_type,
            object_id=object_id[:80],
            payload=payload,
            idempotency_key=idempotency_key,
            created_at=clock_of(session).now(),
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
        .returning(WebhookEvent.id)
    )
    row_id = (await session.execute(statement)).scalar_one_or_none()
    return None if row_id is None else int(row_id)


async def stage_delivery(
    session: AsyncSession,
    *,
    event_id: int,
    endpoint_id: int,
    now: datetime,
    redelivery_of: int | None = None,
) -> WebhookDelivery:
    """A pending delivery of the event to the endpoint, due now, and its outbox job."""
    delivery = WebhookDelivery(
        event_id=event_id,
        endpoint_id=endpoint_id,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=None,  # due at once, whatever the worker's clock says
        dispatches=1,
        dispatched_at=now,
        last_error="",
        redelivery_of=redelivery_of,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    await outbox.enqueue(
        session=session,
        job=DELIVER_JOB,
        kwargs={"delivery_id": delivery.id},
        dedupe_key=dispatch_key(delivery.id, 1),
        queue=WEBHOOK_QUEUE,
    )
    return delivery


def dispatch_key(delivery_id: int, dispatch: int) -> str:
    return f"webhook-delivery:{delivery_id}:{dispatch}"
