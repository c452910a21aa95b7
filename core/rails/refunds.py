"""Booking a refund the rail accepted: a completed card / Airtel Money payment given back to where it
came from (the caller checks it with service.check_refund and asks the rail first).

Each refund of an order is its own ledger entry, named by the order's refunded total after it: an
order refunded in parts has one entry per part, and booking the same refund again (a retry) finds
its entry and changes nothing, the order's refunded total included."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.rails.errors import RailOrderConflict, RefundTooLarge
from core.rails.models import RailOrder


def refund_key(order: RailOrder, refunded_through_minor: int) -> str:
    """The ledger key of the order's refund that brought its refunded total to `refunded_through_minor`
    (totals only grow: no two refunds of an order share one)."""
    return f"rail:{order.rail}:{order.merchant_reference}:refund:{refunded_through_minor}"


async def book_refund(
    *,
    session: AsyncSession,
    order: RailOrder,
    amount: Money,
    refunded_before_minor: int,
    staff_email: str,
    clock: Clock,
) -> bool:
    """The customer's KES wallet to the rail's clearing account, and the order's refunded total, in the
    caller's transaction (the caller commits). `refunded_before_minor`: the order's refunded total
    when this refund was checked and sent to the rail (under the order's row lock); a retry passes
    the same. Returns True when booked now, False when this refund was booked already."""
    through = refunded_before_minor + amount.minor
    if amount.minor <= 0 or through > order.amount_minor:
        raise RefundTooLarge(f"a refund of {amount.amount} would take order {order.id} above what was paid")
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    entry = await ledger.post_entry(
        session=session,
        idempotency_key=refund_key(order, through),
        kind=f"{order.rail}_refund",
        postings=[PostingRequest(order.account_id, -amount), PostingRequest(clearing.id, amount)],
        memo=f"{order.rail} refund {order.confirmation}",
        details={"rail_order_id": order.id, "staff": staff_email, "refunded_through_minor": through},
    )
    if entry.replayed:
        return False
    if order.refunded_minor != refunded_before_minor:  # booked past a refund this one never saw
        raise RailOrderConflict(
            f"order {order.id} holds {order.refunded_minor} minor units refunded, this refund saw "
            f"{refunded_before_minor}"
        )
    order.refunded_minor = through
    order.updated_at = clock.now()
    return True
