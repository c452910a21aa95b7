"""Booking a refund the rail accepted: a completed card / Airtel Money payment given back to where it
came from (the caller checks it with service.check_refund and asks the rail first)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.rails.models import RailOrder


async def book_refund(
    *, session: AsyncSession, order: RailOrder, amount: Money, staff_email: str, clock: Clock
) -> None:
    """The customer's KES wallet to the rail's clearing account; the caller commits."""
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    await ledger.post_entry(
        session=session,
        idempotency_key=f"rail:{order.rail}:{order.merchant_reference}:refund",
        kind=f"{order.rail}_refund",
        postings=[PostingRequest(order.account_id, -amount), PostingRequest(clearing.id, amount)],
        memo=f"{order.rail} refund {order.confirmation}",
        details={"rail_order_id": order.id, "staff": staff_email},
    )
    order.refunded_minor += amount.minor
    order.updated_at = clock.now()
