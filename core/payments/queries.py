"""Reads of payouts and collections for pages, the API and operators' metrics (writes: service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.payments.models import MpesaCollection, Payout
from core.payments.types import CollectionStatus, PayoutStatus


async def payout_counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """Payouts per status, every status present (0 when none)."""
    rows = await session.execute(select(Payout.status, func.count()).group_by(Payout.status))
    counts = dict.fromkeys((s.value for s in PayoutStatus), 0)
    counts.update({status: int(n) for status, n in rows.all()})
    return counts


async def oldest_unknown_payout_update(*, session: AsyncSession) -> datetime | None:
    """When the longest-waiting payout of unknown outcome last changed (None: there is none)."""
    oldest: datetime | None = await session.scalar(
        select(func.min(Payout.updated_at)).where(Payout.status == PayoutStatus.UNKNOWN.value)
    )
    return oldest


async def collection_counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """M-Pesa collections (STK pushes) per status, every status present (0 when none)."""
    rows = await session.execute(
        select(MpesaCollection.status, func.count()).group_by(MpesaCollection.status)
    )
    counts = dict.fromkeys((s.value for s in CollectionStatus), 0)
    counts.update({status: int(n) for status, n in rows.all()})
    return counts
