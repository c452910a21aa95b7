"""Reads of FX rates and overrides for pages, the API and operators' metrics (writes: service.py,
overrides.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.fx.models import FxRate


async def last_fetch_per_pair(*, session: AsyncSession) -> dict[tuple[str, str], datetime]:
    """When a rate of each (base, quote) pair was last fetched, any kind."""
    rows = await session.execute(
        select(FxRate.base, FxRate.quote, func.max(FxRate.fetched_at)).group_by(FxRate.base, FxRate.quote)
    )
    return {(base, quote): at for base, quote, at in rows.all()}
