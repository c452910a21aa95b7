"""Builders of the rows most tests start from, through core's own services (never raw inserts), so a
test's starting state is one the app itself could have reached."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity import service as identity
from core.identity.models import Customer
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType
from core.ledger.service import PostingRequest
from core.money import Money

PIN = "4826"


async def customer(
    session: AsyncSession,
    *,
    phone: str = "0712345678",
    name: str = "Wanjiku",
    national_id: str = "12345678",
    language: str = "en",
    pin: str = PIN,
) -> Customer:
    """A registered customer (in the caller's transaction)."""
    return await identity.register_customer(
        session=session, phone=phone, name=name, national_id=national_id, language=language, pin=pin
    )


async def deposit(session: AsyncSession, *, customer_id: int, funds: Money, key: str = "deposit") -> None:
    """Money the customer deposited earlier: custody holds it, the customer's wallet owns it."""
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=funds.asset
    )
    custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=funds.asset)
    await ledger.post_entry(
        session=session,
        idempotency_key=key,
        kind="deposit",
        postings=[PostingRequest(custody.id, -funds), PostingRequest(wallet.id, funds)],
    )
