"""A proposed configuration change: its payload, what was in force when it was proposed (the diff's
left side), the maker, the checker and the version it became."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.configchanges.models import ...` keeps working.
from core.configchanges.types import ChangeKind as ChangeKind
from core.configchanges.types import ChangeStatus as ChangeStatus
from core.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ConfigChange(Base):
    __tablename__ = "config_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(12), default=ChangeStatus.PENDING.value, index=True)
    maker_id: Mapped[int] = mapped_column(BigInteger)
    checker_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_ref: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
