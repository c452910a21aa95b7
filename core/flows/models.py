"""Tables of the customer use cases: money sent to a number that has no Kibeti account yet."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ClaimStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RETURNED = "returned"


class SendClaim(Base):
    """Funds waiting in the claims account for `phone` until it registers, or `expires_at` returns them."""

    __tablename__ = "flow_send_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    sender_id: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.OPEN.value, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
