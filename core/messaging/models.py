"""Sent SMS and their delivery status, inbound SMS (deduplicated on AT's id), opt-outs, retry rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class SentSms(Base):
    """One message Africa's Talking accepted; `status` follows its delivery reports."""

    __tablename__ = "sms_sent"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(100), unique=True)  # AT's messageId
    phone: Mapped[str] = mapped_column(String(20))
    # null for a message that carried a one-time code: it is never stored, so never resent
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    failure_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    network_code: Mapped[str | None] = mapped_column(String(10), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retry_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class InboundSms(Base):
    """One message a customer sent to the shortcode; AT retries until 200, so `at_id` is unique."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at_id: Mapped[str] = mapped_column(String(100), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    command: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmsPreference(Base):
    """Marketing opt-out per number (STOP/ACHA). Receipts and one-time codes are always sent."""

    __tablename__ = "sms_preferences"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    marketing_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmsRetryRule(Base):
    """How a failed message is retried, per AT failureReason ('*' is the default rule)."""

    __tablename__ = "sms_retry_rules"

    failure_reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    max_attempts: Mapped[int] = mapped_column(Integer)  # 1 = never resent
    delay_seconds: Mapped[int] = mapped_column(Integer)
