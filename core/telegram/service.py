"""Queries and writes on telegram_links (session passed in)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import Customer
from core.telegram.models import TelegramLink


async def link_for_user(*, session: AsyncSession, telegram_user_id: int) -> TelegramLink | None:
    result = await session.execute(
        select(TelegramLink).where(TelegramLink.telegram_user_id == telegram_user_id)
    )
    return result.scalar_one_or_none()


async def link_for_customer(*, session: AsyncSession, customer_id: int) -> TelegramLink | None:
    result = await session.execute(select(TelegramLink).where(TelegramLink.customer_id == customer_id))
    return result.scalar_one_or_none()


async def save_link(
    *, session: AsyncSession, telegram_user_id: int, chat_id: int, customer_id: int, now: datetime
) -> TelegramLink:
    """Link the user to the customer; a previous link of either side is replaced (one chat each)."""
    await session.execute(
        delete(TelegramLink).where(
            (TelegramLink.telegram_user_id == telegram_user_id) | (TelegramLink.customer_id == customer_id)
        )
    )
    row = TelegramLink(
        telegram_user_id=telegram_user_id, chat_id=chat_id, customer_id=customer_id, linked_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def remove_link(*, session: AsyncSession, telegram_user_id: int) -> bool:
    result = await session.execute(
        delete(TelegramLink).where(TelegramLink.telegram_user_id == telegram_user_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def link_for_phone(*, session: AsyncSession, phone: str) -> TelegramLink | None:
    """The chat of the customer with this E.164 number, if they linked one (where receipts go)."""
    result = await session.execute(
        select(TelegramLink)
        .join(Customer, Customer.id == TelegramLink.customer_id)
        .where(Customer.phone == phone)
    )
    return result.scalar_one_or_none()


async def linked_customer(
    *, session: AsyncSession, telegram_user_id: int
) -> tuple[TelegramLink, Customer] | None:
    """The link and its customer in one query."""
    result = await session.execute(
        select(TelegramLink, Customer)
        .join(Customer, Customer.id == TelegramLink.customer_id)
        .where(TelegramLink.telegram_user_id == telegram_user_id)
    )
    row = result.one_or_none()
    return (row[0], row[1]) if row is not None else None
