"""Money coming in from M-Pesa (paybill C2B payments, STK collections): where it becomes spendable.

A callback is only a claim: anyone holding the path token can send one. Nothing here is called with
a callback's word alone; callers pass what our own Daraja query confirmed (Transaction Status for a
paybill payment, matched on our query's ConversationID; STK Query for a collection). Until then the
payment is pending (`pending_for_customer`, `pending_all`), visible but not spendable.

`credit_confirmed_mpesa` is the single crediting call site, so checks on inbound money (compliance)
hook in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger import service as ledger
from core.ledger.models import AccountKind, EntryResult, PostingRequest
from core.money import Asset, Money
from core.payments.models import C2BStatus, CollectionStatus, MpesaC2BPayment, MpesaCollection


async def credit_confirmed_mpesa(
    *,
    session: AsyncSession,
    idempotency_key: str,
    kind: str,
    account_id: int,
    amount: Money,
    memo: str,
    details: dict[str, Any],
) -> EntryResult:
    """Book M-Pesa money that Daraja confirmed: the M-Pesa float to `account_id` (a customer's KES
    wallet, or suspense), once per idempotency key, in the caller's transaction."""
    float_account = await ledger.system_account(
        session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
    )
    return await ledger.post_entry(
        session=session,
        idempotency_key=idempotency_key,
        kind=kind,
        postings=[PostingRequest(float_account.id, -amount), PostingRequest(account_id, amount)],
        memo=memo[:200],
        details=details,
    )


@dataclass(frozen=True)
class PendingInbound:
    """M-Pesa money a callback announced that Daraja has not confirmed yet: shown, not spendable."""

    kind: str  # "paybill" | "stk"
    reference: str  # TransID, or the collection's reference
    amount: Money  # as claimed: not booked until confirmed
    customer_id: int | None
    since: datetime


def _paybill(row: MpesaC2BPayment) -> PendingInbound:
    amount = Money.from_minor(row.claimed_minor, Asset.KES)
    return PendingInbound("paybill", row.trans_id, amount, row.customer_id, row.created_at)


def _stk(row: MpesaCollection) -> PendingInbound:
    amount = Money.from_minor(row.amount_minor, Asset.KES)
    return PendingInbound("stk", row.reference or f"C{row.id}", amount, row.customer_id, row.updated_at)


async def pending_for_customer(*, session: AsyncSession, customer_id: int) -> list[PendingInbound]:
    """A customer's M-Pesa payments waiting for Daraja's confirmation (mini statement)."""
    paybill = await session.execute(
        select(MpesaC2BPayment).where(
            MpesaC2BPayment.customer_id == customer_id, MpesaC2BPayment.status == C2BStatus.PENDING.value
        )
    )
    stk = await session.execute(
        select(MpesaCollection).where(
            MpesaCollection.customer_id == customer_id,
            MpesaCollection.status == CollectionStatus.CONFIRMING.value,
        )
    )
    found = [_paybill(r) for r in paybill.scalars()] + [_stk(r) for r in stk.scalars()]
    return sorted(found, key=lambda p: p.since)


async def pending_all(*, session: AsyncSession, limit: int = 200) -> list[PendingInbound]:
    """Every M-Pesa payment waiting for Daraja's confirmation, oldest first (staff)."""
    paybill = await session.execute(
        select(MpesaC2BPayment)
        .where(MpesaC2BPayment.status == C2BStatus.PENDING.value)
        .order_by(MpesaC2BPayment.id)
        .limit(limit)
    )
    stk = await session.execute(
        select(MpesaCollection)
        .where(MpesaCollection.status == CollectionStatus.CONFIRMING.value)
        .order_by(MpesaCollection.id)
        .limit(limit)
    )
    found = [_paybill(r) for r in paybill.scalars()] + [_stk(r) for r in stk.scalars()]
    return sorted(found, key=lambda p: p.since)[:limit]
