"""Reads of rail orders for operators (writes: service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.rails.models import RailOrder, RailRefund
from core.rails.refunds import OPEN_REFUND


async def newest_orders(*, session: AsyncSession, limit: int) -> list[RailOrder]:
    """The newest rail orders (PesaPal cards and Airtel Money), newest first."""
    query = select(RailOrder).order_by(RailOrder.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def open_refund_counts(*, session: AsyncSession) -> tuple[dict[str, int], datetime | None]:
    """Open rail refunds (pending, unknown, accepted: their amounts held) per state, zeros included,
    and when the oldest of them was recorded (None: none open)."""
    rows = await session.execute(
        select(RailRefund.status, func.count(), func.min(RailRefund.created_at))
        .where(RailRefund.status.in_(OPEN_REFUND))
        .group_by(RailRefund.status)
    )
    counts, oldest = dict.fromkeys(OPEN_REFUND, 0), None
    for status, n, first in rows.all():
        counts[status] = int(n)
        oldest = first if oldest is None or (first is not None and first < oldest) else oldest
    return counts, oldest


async def oldest_open_refund_by_state(*, session: AsyncSession) -> dict[str, datetime | None]:
    """When the oldest open rail refund of each state was recorded (None: none in that state), so
    that one accepted by PesaPal and waiting for the merchant's approval on its dashboard is told
    apart from one whose outcome is unknown."""
    rows = await session.execute(
        select(RailRefund.status, func.min(RailRefund.created_at))
        .where(RailRefund.status.in_(OPEN_REFUND))
        .group_by(RailRefund.status)
    )
    oldest: dict[str, datetime | None] = dict.fromkeys(OPEN_REFUND, None)
    for status, first in rows.all():
        oldest[status] = first
    return oldest
