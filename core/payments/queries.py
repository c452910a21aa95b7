"""Reads of payouts and collections for pages, the API and operators' metrics (writes: service.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.keyset import KeysetPage, fetch
from core.payments.models import MpesaC2BPayment, MpesaCallback, MpesaCollection, Payout, PayoutRetry
from core.payments.types import C2BStatus, CollectionStatus, PayoutStatus


async def payout_counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """Payouts per status, every status present (0 when none)."""
    rows = await session.execute(select(Payout.status, func.count()).group_by(Payout.status))
    counts = dict.fromkeys((s.value for s in PayoutStatus), 0)
    counts.update({status: int(n) for status, n in rows.all()})
    return counts


async def oldest_unknown_payout_update(*, session: AsyncSession) -> datetime | None:
    """When the longest-waiting payout of unknown outcome entered unknown (None: there is none);
    status queries and repeated unknown answers do not move it (a row without it: its updated_at)."""
    oldest: datetime | None = await session.scalar(
        select(func.min(func.coalesce(Payout.unknown_since, Payout.updated_at))).where(
            Payout.status == PayoutStatus.UNKNOWN.value
        )
    )
    return oldest


async def collection_counts_by_status(*, session: AsyncSession) -> dict[str, int]:
    """M-Pesa collections (STK pushes) per status, every status present (0 when none)."""
    rows = await session.execute(
        select(MpesaCollection.status, func.count()).group_by(MpesaCollection.status)
    )
    counts = dict.fromkeys((s.value for s in CollectionStatus), 0)
    counts.update({status: int(n) for status, n in rows.all()})
    return counts


async def payouts_in_state(
    *, session: AsyncSession, status: str, created_before: datetime | None, limit: int
) -> list[Payout]:
    """Payouts in one state, newest first, created before a time (keyset on created_at); at most
    `limit` (ask for one more to learn whether there is a next page)."""
    statement = select(Payout).where(Payout.status == status)
    if created_before is not None:
        statement = statement.where(Payout.created_at < created_before)
    return list((await session.scalars(statement.order_by(Payout.created_at.desc()).limit(limit))).all())


async def recent_payouts(*, session: AsyncSession, status: str | None, limit: int) -> list[Payout]:
    """The payouts that changed last, optionally in one state."""
    statement = select(Payout).order_by(Payout.updated_at.desc()).limit(limit)
    if status is not None:
        statement = statement.where(Payout.status == status)
    return list((await session.scalars(statement)).all())


async def find_payout(*, session: AsyncSession, payout_id: str) -> Payout | None:
    return await session.get(Payout, payout_id)


async def find_retry_request(*, session: AsyncSession, request_id: int) -> PayoutRetry | None:
    return await session.get(PayoutRetry, request_id)


async def unfinished_collections(
    *, session: AsyncSession, before: int | None, limit: int
) -> KeysetPage[MpesaCollection]:
    """STK push collections not succeeded, newest first, keyset-paged on the id."""
    statement = select(MpesaCollection).where(MpesaCollection.status != CollectionStatus.SUCCEEDED.value)
    return await fetch(session, statement, MpesaCollection.id, cursor_value=before, limit=limit)


async def c2b_in_suspense(*, session: AsyncSession, limit: int) -> Sequence[MpesaC2BPayment]:
    """Paybill payments confirmed but held in suspense (no wallet to credit), newest first."""
    statement = (
        select(MpesaC2BPayment)
        .where(MpesaC2BPayment.status == C2BStatus.SUSPENSE.value)
        .order_by(MpesaC2BPayment.id.desc())
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def callbacks_of_payout(*, session: AsyncSession, payout: Payout) -> Sequence[MpesaCallback]:
    """Daraja's callbacks about a payout (result, status query, timeouts), oldest first, at most 100."""
    references = [
        r for r in (payout.originator_conversation_id, payout.conversation_id, payout.status_query_id) if r
    ]
    statement = (
        select(MpesaCallback)
        .where(
            or_(
                MpesaCallback.reference.in_(references),
                MpesaCallback.raw.contains(payout.originator_conversation_id),
            )
        )
        .order_by(MpesaCallback.id)
        .limit(100)
    )
    return (await session.scalars(statement)).all()


async def c2b_confirmation_outcomes(*, session: AsyncSession, trans_id: str) -> list[str]:
    """What was made of each delivery of a paybill confirmation (pending, duplicate, ...), in order."""
    statement = (
        select(MpesaCallback.outcome)
        .where(MpesaCallback.kind == "c2b_confirmation", MpesaCallback.reference == trans_id)
        .order_by(MpesaCallback.id)
    )
    return [str(o or "unprocessed") for o in (await session.execute(statement)).scalars()]


@dataclass(frozen=True)
class MpesaFloat:
    """The B2C utility float from the last Account Balance answer (the scheduler asks periodically)."""

    available: str  # as M-Pesa reported it, or "" when the answer carried no utility line
    outcome: str
    received_at: datetime


async def mpesa_float(*, session: AsyncSession) -> MpesaFloat | None:
    row = (
        await session.execute(
            select(MpesaCallback)
            .where(MpesaCallback.kind == "balance_result", MpesaCallback.processed.is_(True))
            .order_by(MpesaCallback.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    outcome = row.outcome or ""
    available = outcome.removeprefix("utility=") if outcome.startswith("utility=") else ""
    return MpesaFloat(available=available, outcome=row.flag_reason or outcome, received_at=row.received_at)


async def c2b_status(*, session: AsyncSession, trans_id: str) -> str | None:
    """What was made of a paybill payment (a C2BStatus value), or None when no confirmation came."""
    statement = select(MpesaC2BPayment.status).where(MpesaC2BPayment.trans_id == trans_id)
    return (await session.execute(statement)).scalar_one_or_none()
