"""Device sessions: create on sign-in, check on every request, revoke one or all."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.devices.models import CustomerDevice

DEVICE_LIFETIME = timedelta(days=30)
SEEN_RESOLUTION = timedelta(minutes=5)  # last_seen_at is written at most this often


async def create(session: AsyncSession, *, customer_id: int, label: str, now: datetime) -> CustomerDevice:
    device = CustomerDevice(
        id=secrets.token_urlsafe(32),
        customer_id=customer_id,
        label=label[:120] or "browser",
        created_at=now,
        last_seen_at=now,
        expires_at=now + DEVICE_LIFETIME,
    )
    session.add(device)
    await session.flush()
    return device


async def live(session: AsyncSession, *, device_id: str, now: datetime) -> CustomerDevice | None:
    """The device when it is neither revoked nor expired; its last-seen time refreshed now and then."""
    device = await session.get(CustomerDevice, device_id)
    if device is None or device.revoked_at is not None or device.expires_at <= now:
        return None
    if now - device.last_seen_at >= SEEN_RESOLUTION:
        device.last_seen_at = now
        await session.flush()
    return device


async def revoke(session: AsyncSession, *, device_id: str, by: str, now: datetime) -> None:
    await session.execute(
        update(CustomerDevice)
        .where(CustomerDevice.id == device_id, CustomerDevice.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by)
    )


async def revoke_all(session: AsyncSession, *, customer_id: int, by: str, now: datetime) -> int:
    result = await session.execute(
        update(CustomerDevice)
        .where(CustomerDevice.customer_id == customer_id, CustomerDevice.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def active_devices(session: AsyncSession, *, customer_id: int, now: datetime) -> list[CustomerDevice]:
    query = (
        select(CustomerDevice)
        .where(
            CustomerDevice.customer_id == customer_id,
            CustomerDevice.revoked_at.is_(None),
            CustomerDevice.expires_at > now,
        )
        .order_by(CustomerDevice.last_seen_at.desc())
    )
    return list((await session.scalars(query)).all())
