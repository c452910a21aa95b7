"""Insert the default tiers and rules that are missing (the migration seeds them; this restores
them after a truncate and lets a fresh process start safely). Existing rows are never changed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.defaults import DEFAULT_RULES, DEFAULT_TIERS
from compliance.models import KycTier, MonitoringRule


async def ensure_defaults(*, session: AsyncSession, now: datetime) -> int:
    """Returns how many rows were added."""
    added = 0
    tiers = set((await session.execute(select(KycTier.tier))).scalars())
    rules = set((await session.execute(select(MonitoringRule.code))).scalars())
    for tier in DEFAULT_TIERS:
        if tier["tier"] not in tiers:
            added += await _add(session, KycTier(**tier, updated_at=now, updated_by="defaults"))
    for rule in DEFAULT_RULES:
        if rule["code"] not in rules:
            row = MonitoringRule(**rule, enabled=True, updated_at=now, updated_by="defaults")
            added += await _add(session, row)
    return added


async def _add(session: AsyncSession, row: KycTier | MonitoringRule) -> int:
    try:
        async with session.begin_nested():
            session.add(row)
        return 1
    except IntegrityError:  # another process seeded it first
        return 0
