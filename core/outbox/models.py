"""The transactional outbox: jobs written in the same transaction as the money they move.

A relay moves rows to the job queue (RQ or in-process). Redis may lose a job (flushed, crashed);
the row stays `dispatched` until the consumer marks it done, so the relay dispatches it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.outbox.models import ...` keeps working.
from core.outbox.types import OutboxStatus as OutboxStatus

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxJob(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    job: Mapped[str] = mapped_column(String(160))
    queue: Mapped[str] = mapped_column(String(40), default="default")
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def job_id(self) -> str:
        return f"outbox-{self.id}-{self.attempts}"
