"""Reads of merchants for staff pages (writes and the lookups use cases need: service.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.keyset import KeysetPage, fetch
from core.merchants.models import Merchant


async def merchants_page(
    *, session: AsyncSession, status: str | None, before: int | None
) -> KeysetPage[Merchant]:
    """Merchants, optionally in one status, newest first, keyset-paged on the id."""
    statement = select(Merchant)
    if status is not None:
        statement = statement.where(Merchant.status == status)
    return await fetch(session, statement, Merchant.id, cursor_value=before)


async def find_merchant(*, session: AsyncSession, merchant_id: int) -> Merchant | None:
    return await session.get(Merchant, merchant_id)
