"""Reads of rail orders for operators (writes: service.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.rails.models import RailOrder


async def newest_orders(*, session: AsyncSession, limit: int) -> list[RailOrder]:
    """The newest rail orders (PesaPal cards and Airtel Money), newest first."""
    query = select(RailOrder).order_by(RailOrder.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())
