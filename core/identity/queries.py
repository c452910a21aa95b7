"""Reads of customers for outer packages: views, never the table (writes: service.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.models import Customer
from core.identity.types import CustomerView


def view_of(customer: Customer) -> CustomerView:
    return CustomerView(
        id=customer.id,
        phone=customer.phone,
        name=customer.name,
        national_id=customer.national_id,
        language=customer.language,
        kyc_tier=customer.kyc_tier,
        status=customer.status,
        created_at=customer.created_at,
    )


async def customer_view(*, session: AsyncSession, customer_id: int) -> CustomerView | None:
    """The customer, or None for an unknown id."""
    customer = await session.get(Customer, customer_id)
    return view_of(customer) if customer is not None else None


async def customer_ids_with_phone(*, session: AsyncSession, phone: str, excluding: int) -> set[int]:
    """The ids of customers registered with exactly this phone (E.164), but `excluding`."""
    statement = select(Customer.id).where(Customer.phone == phone, Customer.id != excluding)
    return set((await session.execute(statement)).scalars())
