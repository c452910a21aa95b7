"""telegram_links: one row per linked Telegram user; a customer links at most one chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class TelegramLink(Base):
    __tablename__ = "telegram_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)  # Telegram ids exceed 2**31
    chat_id: Mapped[int] = mapped_column(BigInteger)  # where receipts go (the private chat)
    customer_id: Mapped[int] = mapped_column(Integer, unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class LinkedCustomer:
    """What the bot knows of the customer behind a chat."""

    customer_id: int
    phone: str
    name: str
    language: str
    chat_id: int
