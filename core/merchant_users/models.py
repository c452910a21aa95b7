"""merchant_users and their dashboard sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.merchant_users.models import ...` keeps working.
from core.merchant_users.types import MerchantRole as MerchantRole

Id = BigInteger().with_variant(Integer(), "sqlite")


class MerchantUser(Base):
    __tablename__ = "merchant_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(Integer, index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(String(512))  # sealed with the envelope keys
    last_totp_step: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MerchantSession(Base):
    __tablename__ = "merchant_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random; the cookie names it
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
