"""Reads of staff users for outer packages: views without secrets, never the table (writes: service.py)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.models import ApiKey, StaffUser
from core.auth.types import StaffMember


async def staff_member_by_email(*, session: AsyncSession, email: str) -> StaffMember | None:
    """The staff user signing in with this e-mail (any case), or None."""
    wanted = email.strip().lower()
    query = select(StaffUser).where(func.lower(StaffUser.email) == wanted)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        return None
    return StaffMember(id=found.id, email=found.email, role=found.role, active=found.active)


async def api_key_owner(*, session: AsyncSession, key_id: str) -> int | None:
    """The merchant an API key (by its public key id) belongs to, or None for an unknown key."""
    found = (await session.scalars(select(ApiKey).where(ApiKey.key_id == key_id))).first()
    return found.merchant_id if found is not None else None
