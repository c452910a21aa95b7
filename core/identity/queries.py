"""Reads of customers for outer packages: views, never the table (writes: service.py)."""

from __future__ import annotations

import contextlib

from sqlalchemy import ColumnElement, String, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.keyset import KeysetPage, fetch
from core.identity.models import Customer
from core.identity.phone import normalize_phone
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


def _search(text: str) -> ColumnElement[bool]:
    """One indexed lookup when the text is a phone number, a national ID or a customer number; a name
    prefix otherwise (the only clause that reads the table)."""
    with contextlib.suppress(ValueError):  # not a phone number: try the other kinds
        return Customer.phone == normalize_phone(text)
    if text.isdigit() and len(text) < 10:
        return or_(Customer.national_id == text, Customer.id == int(text))
    if text.isdigit():
        return Customer.national_id == text
    # rendered inline: under a prepared statement's generic plan PostgreSQL cannot see the prefix and
    # walks the primary key past every customer instead of using ix_customers_name_trgm (core_0106)
    prefix = bindparam("name_prefix", f"{_escape(text)}%", type_=String(), literal_execute=True)
    return Customer.name.ilike(prefix, escape="\\")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_customers(
    *, session: AsyncSession, text: str, before: int | None
) -> KeysetPage[CustomerView]:
    """Customers matching a phone number, national ID, customer number or name prefix (every
    customer for blank text), newest first, keyset-paged on the id."""
    text = text.strip()
    statement = select(Customer).where(_search(text)) if text else select(Customer)
    found = await fetch(session, statement, Customer.id, cursor_value=before)
    return KeysetPage(rows=[view_of(c) for c in found.rows], next_cursor=found.next_cursor)
