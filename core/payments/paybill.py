"""Paybill (C2B) payments as the Daraja adapter records them, and what the ledger and the audit log say
about them: the queries payouts.c2b and payouts.c2b_suspense need, so the adapter reads no core table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.clock import clock_of
from core.ledger.models import JournalEntry, Posting
from core.payments.models import MpesaC2BPayment
from core.payments.types import C2BStatus


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def find_payment(*, session: AsyncSession, trans_id: str, lock: bool = False) -> MpesaC2BPayment | None:
    query = select(MpesaC2BPayment).where(MpesaC2BPayment.trans_id == trans_id[:40])
    if lock and _is_postgres(session):
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def record_claim(
    *,
    session: AsyncSession,
    trans_id: str,
    claimed_minor: int,
    bill_ref: str,
    payer: str,
    shortcode: str,
    customer_id: int | None,
) -> bool:
    """A confirmation's claim, pending our query; False when a concurrent delivery recorded it first."""
    now = clock_of(session).now()
    row = MpesaC2BPayment(
        trans_id=trans_id,
        claimed_minor=claimed_minor,
        bill_ref=bill_ref,
        payer=payer,
        shortcode=shortcode,
        customer_id=customer_id,
        status=C2BStatus.PENDING.value,
        queries=0,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def stale_payments(*, session: AsyncSession, older_than: datetime, limit: int = 200) -> list[str]:
    """TransIDs still pending since `older_than`."""
    query = (
        select(MpesaC2BPayment.trans_id)
        .where(MpesaC2BPayment.status == C2BStatus.PENDING.value, MpesaC2BPayment.updated_at < older_than)
        .order_by(MpesaC2BPayment.updated_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def is_query(*, session: AsyncSession, conversation_id: str) -> bool:
    """Whether `conversation_id` is the one Daraja gave one of our paybill queries."""
    query = select(MpesaC2BPayment.id).where(MpesaC2BPayment.query_conversation_id == conversation_id[:64])
    return (await session.execute(query)).first() is not None


async def payment_for_query(*, session: AsyncSession, conversation_id: str) -> MpesaC2BPayment | None:
    """The payment our query with this ConversationID asked about, locked (PostgreSQL)."""
    query = select(MpesaC2BPayment).where(MpesaC2BPayment.query_conversation_id == conversation_id[:64])
    if _is_postgres(session):
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def is_booked(*, session: AsyncSession, idempotency_key: str) -> bool:
    """Whether a ledger entry was booked under this key (a paybill payment booked before its row)."""
    query = select(JournalEntry.id).where(JournalEntry.idempotency_key == idempotency_key)
    return (await session.execute(query)).first() is not None


@dataclass(frozen=True)
class Booking:
    """A paybill payment's ledger entry: its kind and the amount it credited."""

    entry_id: int
    kind: str
    credited_minor: int
    details: dict[str, Any]


async def booking(*, session: AsyncSession, idempotency_key: str) -> Booking | None:
    entry = (
        await session.execute(select(JournalEntry).where(JournalEntry.idempotency_key == idempotency_key))
    ).scalar_one_or_none()
    if entry is None:
        return None
    credited = (
        await session.execute(
            select(Posting.amount).where(Posting.entry_id == entry.id, Posting.amount > 0).limit(1)
        )
    ).scalar_one_or_none()
    return Booking(entry.id, entry.kind, int(credited or 0), dict(entry.details or {}))


@dataclass(frozen=True)
class Proposal:
    actor: str
    details: dict[str, Any]


async def latest_proposal(*, session: AsyncSession, action: str, subject: str) -> Proposal | None:
    """The latest audit row of `action` on `subject` (a maker's proposal waiting for its checker)."""
    statement = (
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.subject == subject)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else Proposal(row.actor, dict(row.details or {}))
