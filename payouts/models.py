"""The payouts package's own table: every Daraja API call, request and response, secrets redacted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class MpesaApiCall(Base):
    __tablename__ = "mpesa_api_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # the call's own key (ApiCall.call_id): a retried write of the same call adds no second row
    call_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True, index=True)
    api: Mapped[str] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(String(120))
    reference: Mapped[str] = mapped_column(String(64), default="", index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    http_status: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
