"""Saved addresses: queries and writes (session passed in, keyword-only, no commit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.addressbook.errors import AddressBookFull, AddressNotSaved
from core.addressbook.models import SavedAddress
from core.money import Asset

MAX_ADDRESSES = 5  # a USSD list of five fits one screen


async def save(
    *, session: AsyncSession, customer_id: int, asset: Asset, label: str, address: str, now: datetime
) -> SavedAddress:
    """Save (or relabel) `address` on `asset`'s network; `address` is already canonical and screened."""
    query = select(SavedAddress).where(
        SavedAddress.customer_id == customer_id,
        SavedAddress.asset == asset.value,
        SavedAddress.address == address,
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is not None:
        row.label, row.screened_at = label, now
        await session.flush()
        return row
    count = select(func.count()).select_from(SavedAddress).where(SavedAddress.customer_id == customer_id)
    if int((await session.execute(count)).scalar_one()) >= MAX_ADDRESSES:
        raise AddressBookFull(f"at most {MAX_ADDRESSES} saved addresses")
    row = SavedAddress(
        customer_id=customer_id, label=label, asset=asset.value, address=address, screened_at=now,
        created_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def list_for(*, session: AsyncSession, customer_id: int) -> list[SavedAddress]:
    query = select(SavedAddress).where(SavedAddress.customer_id == customer_id).order_by(SavedAddress.id)
    return list((await session.execute(query)).scalars())


async def get(*, session: AsyncSession, customer_id: int, address_id: int) -> SavedAddress:
    row = await session.get(SavedAddress, address_id)
    if row is None or row.customer_id != customer_id:
        raise AddressNotSaved(f"no saved address {address_id} for this customer")
    return row
