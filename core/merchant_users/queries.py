"""Who is signed in to a merchant's dashboard, read for pages as types.py values (sessions and writes:
service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.merchant_users import service
from core.merchant_users.types import DashboardMerchant, DashboardUser


async def signed_in(
    *, session: AsyncSession, session_id: str, now: datetime
) -> tuple[DashboardUser, DashboardMerchant] | None:
    """The user and merchant behind a live session; None when revoked, expired or disabled."""
    found = await service.current(session=session, session_id=session_id, now=now)
    if found is None:
        return None
    user, merchant = found
    return (
        DashboardUser(id=user.id, email=user.email, role=user.role, merchant_id=user.merchant_id),
        DashboardMerchant(
            id=merchant.id,
            name=merchant.name,
            till_code=merchant.till_code,
            fee_bps=merchant.fee_bps,
            settlement_method=merchant.settlement_method,
            settlement_schedule=merchant.settlement_schedule,
            notification_phones=tuple(merchant.notification_phones or ()),
        ),
    )
