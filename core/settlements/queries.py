"""Reads of merchant credits and settlements for outer packages: views, never the tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settlements.models import MerchantCredit, Settlement
from core.settlements.types import CreditSummary, SettlementSummary


async def credits_since(*, session: AsyncSession, merchant_id: int, since: datetime) -> list[CreditSummary]:
    """The merchant's credits from `since` on, oldest first."""
    query = (
        select(MerchantCredit)
        .where(MerchantCredit.merchant_id == merchant_id, MerchantCredit.created_at >= since)
        .order_by(MerchantCredit.id)
    )
    return [
        CreditSummary(c.id, c.payer_customer_id, c.payer, c.gross_minor, c.created_at, c.settlement_id)
        for c in (await session.execute(query)).scalars()
    ]


async def settlements_since(
    *, session: AsyncSession, merchant_id: int, since: datetime
) -> list[SettlementSummary]:
    """The merchant's settlements opened from `since` on."""
    query = select(Settlement.id, Settlement.created_at).where(
        Settlement.merchant_id == merchant_id, Settlement.created_at >= since
    )
    return [
        SettlementSummary(row_id, created_at) for row_id, created_at in (await session.execute(query)).all()
    ]


async def settlements_failed_first(
    *, session: AsyncSession, status: str | None, limit: int
) -> list[Settlement]:
    """For staff: failed settlements first (their funds are back on the merchant's balance), then the
    rest, newest first within each; of one status when `status` is given."""
    query = select(Settlement)
    if status:
        query = query.where(Settlement.status == status)
    failed_first = case((Settlement.status == "failed", 0), else_=1)
    rows = await session.execute(query.order_by(failed_first, Settlement.id.desc()).limit(limit))
    return list(rows.scalars())
