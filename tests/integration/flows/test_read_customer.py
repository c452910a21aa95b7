"""The customer a phone number belongs to, as a USSD session's first hop reads it
(`accounts.read_customer`: one pooled asyncpg query on PostgreSQL, a session on SQLite): the same
view `CoreFlows` built from the ORM row, for any status, and None for a number no one has."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.flows import accounts
from core.flows.types import CustomerView
from core.identity.models import Customer


async def test_read_customer_finds_the_view_by_phone(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    async with session_factory() as session:
        for phone, name, language, status, reset in (
            ("+254712000001", "Amina Otieno", "sw", "active", False),
            ("+254712000002", "Brian Kip", "en", "blocked", True),
        ):
            session.add(
                Customer(
                    phone=phone, name=name, national_id=phone[-8:], language=language, kyc_tier=0,
                    status=status, pin_hash="x", pin_failed_count=0, pin_reset_pending=reset,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        await session.commit()
    first = await accounts.read_customer(session_factory, "+254712000001")
    second = await accounts.read_customer(session_factory, "+254712000002")
    assert first is not None and second is not None
    assert first == CustomerView(id=first.id, phone="+254712000001", name="Amina Otieno", language="sw")
    assert second == CustomerView(
        id=second.id, phone="+254712000002", name="Brian Kip", language="en", pin_reset_pending=True
    )
    assert await accounts.read_customer(session_factory, "+254712000003") is None
