"""Reads of FX rates and overrides for pages, the API and operators' metrics (writes: service.py,
overrides.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.keyset import KeysetPage, fetch
from core.fx.models import FxOverride, FxRate


async def last_fetch_per_pair(*, session: AsyncSession) -> dict[tuple[str, str], datetime]:
    """When a rate of each (base, quote) pair was last fetched, any kind."""
    rows = await session.execute(
        select(FxRate.base, FxRate.quote, func.max(FxRate.fetched_at)).group_by(FxRate.base, FxRate.quote)
    )
    return {(base, quote): at for base, quote, at in rows.all()}


async def newest_rate_per_source(*, session: AsyncSession) -> Sequence[FxRate]:
    """The newest stored rate of each (base, quote, source), by base."""
    newest = (
        select(FxRate.base, FxRate.quote, FxRate.source, func.max(FxRate.id).label("id"))
        .group_by(FxRate.base, FxRate.quote, FxRate.source)
        .subquery()
    )
    statement = select(FxRate).join(newest, FxRate.id == newest.c.id).order_by(FxRate.base)
    return (await session.scalars(statement)).all()


async def pending_overrides(*, session: AsyncSession) -> Sequence[FxOverride]:
    """Manual rates waiting for a second finance user, oldest first."""
    statement = select(FxOverride).where(FxOverride.status == "pending").order_by(FxOverride.id)
    return (await session.scalars(statement)).all()


async def decided_overrides(*, session: AsyncSession, before: int | None) -> KeysetPage[FxOverride]:
    """Approved, rejected and expired manual rates, newest first, keyset-paged on the id."""
    statement = select(FxOverride).where(FxOverride.status != "pending")
    return await fetch(session, statement, FxOverride.id, cursor_value=before)
