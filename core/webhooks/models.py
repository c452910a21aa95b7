"""Webhook endpoints a merchant registers, the events recorded for it, one delivery per (event,
endpoint) and one attempt row per HTTP request made for a delivery (the delivery log).

A delivery's schedule lives here, in the database (`next_attempt_at`), never only in Redis: the sweep
(channels.webhooks.jobs.sweep_due_deliveries) re-dispatches whatever is due after a worker kill or a
Redis flush.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.webhooks.models import ...` keeps working.
from core.webhooks.types import AttemptOutcome as AttemptOutcome
from core.webhooks.types import DeliveryStatus as DeliveryStatus

Id = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(Id, ForeignKey("merchants.id"), nullable=False, index=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # [] = every event
    description: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    secret_envelope: Mapped[str] = mapped_column(Text, nullable=False)  # core.security.envelope
    secret_hint: Mapped[str] = mapped_column(String(8), nullable=False)  # the secret's last characters
    # After a roll, the old secret signs too (a second v1) until it expires: receivers switch over.
    previous_secret_envelope: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    disabled_reason: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    merchant_id: Mapped[int] = mapped_column(Id, ForeignKey("merchants.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    object_id: Mapped[str] = mapped_column(String(80), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(160), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(Id, ForeignKey("webhook_events.id"), nullable=False, index=True)
    endpoint_id: Mapped[int] = mapped_column(
        Id, ForeignKey("webhook_endpoints.id"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # While a job holds the delivery (an HTTP request in flight) nobody else starts one; a job killed
    # mid-request leaves the lease to run out, and the sweep dispatches the delivery again.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dispatches: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    redelivery_of: Mapped[int | None] = mapped_column(Id, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(Id, ForeignKey("webhook_deliveries.id"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(12), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    response_snippet: Mapped[str] = mapped_column(String(500), nullable=False, default="")
