"""Read-only queries behind the portal's pages (what the staff API lists, plus the counts the
dashboard shows). Writes always go through the domain services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.gate import IDENTITY_WAITING
from compliance.models import Case, CaseStatus, KycProfile
from core.ledger.models import JournalEntry, Posting
from core.payments.models import MpesaCallback


@dataclass(frozen=True)
class Volume:
    kind: str
    asset: str
    minor: int
    entries: int


async def volumes(session: AsyncSession, *, since: datetime) -> list[Volume]:
    """Money moved per entry kind and asset since `since`: each entry's credits (= its debits)."""
    rows = await session.execute(
        select(
            JournalEntry.kind,
            Posting.asset,
            func.sum(Posting.amount),
            func.count(func.distinct(JournalEntry.id)),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(JournalEntry.created_at >= since, Posting.amount > 0)
        .group_by(JournalEntry.kind, Posting.asset)
        .order_by(JournalEntry.kind, Posting.asset)
    )
    return [Volume(kind, asset, int(total or 0), int(n)) for kind, asset, total, n in rows.all()]


def kyc_waiting() -> ColumnElement[bool]:
    """Profiles waiting for a person: an identity the registry did not settle, or T2 documents."""
    return or_(
        (KycProfile.tier == 0) & KycProfile.iprs_status.in_(sorted(IDENTITY_WAITING)),
        KycProfile.t2_review == "pending",
    )


async def kyc_pending_count(session: AsyncSession) -> int:
    found = await session.scalar(select(func.count()).select_from(KycProfile).where(kyc_waiting()))
    return int(found or 0)


@dataclass(frozen=True)
class CaseSla:
    open: int
    str_due_soon: int  # escalated, STR due within a day
    str_overdue: int


async def case_sla(session: AsyncSession, *, now: datetime) -> CaseSla:
    open_states = [s.value for s in CaseStatus if s is not CaseStatus.CLOSED]
    opened = await session.scalar(select(func.count()).select_from(Case).where(Case.status.in_(open_states)))
    due = Case.str_due_at.is_not(None) & (Case.status == CaseStatus.ESCALATED.value)
    soon = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(due, Case.str_due_at > now, Case.str_due_at <= now + timedelta(days=1))
    )
    overdue = await session.scalar(select(func.count()).select_from(Case).where(due, Case.str_due_at <= now))
    return CaseSla(int(opened or 0), int(soon or 0), int(overdue or 0))


@dataclass(frozen=True)
class MpesaFloat:
    """The B2C utility float from the last Account Balance answer (the scheduler asks periodically)."""

    available: str  # as M-Pesa reported it, or "" when the answer carried no utility line
    outcome: str
    received_at: datetime


async def mpesa_float(session: AsyncSession) -> MpesaFloat | None:
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
