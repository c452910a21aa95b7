"""Builders shared by the compliance integration tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from compliance import cases
from compliance.models import Alert
from core.auth.models import StaffUser
from core.identity.models import Customer
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


async def add_customer(
    session: AsyncSession, customer_id: int, now: datetime, *, kyc_tier: int = 0
) -> Customer:
    """A customer row with a fixed id (no PIN hashing: these tests never sign in as the customer)."""
    customer = Customer(
        id=customer_id,
        phone=f"+2547{customer_id:08d}",
        name="Test Customer",
        kyc_tier=kyc_tier,
        pin_hash="x",
        created_at=now,
        updated_at=now,
    )
    session.add(customer)
    await session.flush()
    return customer


async def add_staff(
    session: AsyncSession, email: str, now: datetime, *, role: str = "compliance", active: bool = True
) -> StaffUser:
    """A staff user who never signs in (a case assignee)."""
    staff = StaffUser(
        email=email,
        role=role,
        password_hash="x",
        totp_secret="x",
        last_totp_step=0,
        active=active,
        failed_logins=0,
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    return staff
