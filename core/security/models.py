"""Secrets at rest: named envelopes (seeds, xprv, provider credentials)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow


class StoredSecret(Base):
    __tablename__ = "stored_secrets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    envelope: Mapped[str] = mapped_column(Text, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
