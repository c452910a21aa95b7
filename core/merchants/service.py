"""Create, find and list merchants. Keyword-only; the caller's session owns the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock
from core.merchants.errors import InvalidMerchant, UnknownMerchant
from core.merchants.models import Merchant


async def create_merchant(*, session: AsyncSession, name: str, actor: str, clock: Clock) -> Merchant:
    clean = " ".join(name.split())
    if not 2 <= len(clean) <= 100 or not clean.isprintable():
        raise InvalidMerchant("a merchant needs a name of 2 to 100 printable characters")
    merchant = Merchant(name=clean, active=True, created_at=clock.now(), created_by=actor)
    session.add(merchant)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="merchant.created",
        subject=f"merchant:{merchant.id}",
        clock=clock,
    )
    return merchant


async def require_active(*, session: AsyncSession, merchant_id: int) -> Merchant:
    """The merchant, or UnknownMerchant when no active merchant has this id."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None or not merchant.active:
        raise UnknownMerchant(f"no active merchant {merchant_id}")
    return merchant


async def list_merchants(*, session: AsyncSession, limit: int = 100) -> list[Merchant]:
    return list((await session.execute(select(Merchant).order_by(Merchant.id).limit(limit))).scalars())
