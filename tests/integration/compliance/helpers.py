"""Builders shared by the compliance integration tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from compliance import cases
from compliance.models import Alert
from core.money import Asset, Money

SANCTIONED_BTC = "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"


def kes(amount: str) -> Money:
    return Money.of(amount, Asset.KES)


async def rule_alert(
    session: AsyncSession,
    now: datetime,
    *,
    dedupe_key: str,
    customer_id: int,
    rule_code: str = "x",
    score: int = 1,
    summary: str = "s",
) -> Alert:
    """A monitoring-rule alert with no details or movements."""
    return await cases.raise_alert(
        session=session,
        dedupe_key=dedupe_key,
        customer_id=customer_id,
        source="rule",
        rule_code=rule_code,
        score=score,
        summary=summary,
        details={},
        movement_ids=[],
        now=now,
    )
