"""Read-only queries of compliance's tables behind the portal's pages (the KYC queue's filter and the
counts the dashboard shows; core's reads are in core.<domain>.queries). Writes always go through the
domain services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.gate import IDENTITY_WAITING
from compliance.models import Case, CaseStatus, KycProfile


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
    unfiled = (CaseStatus.ESCALATED.value, CaseStatus.STR_DRAFTED.value)  # an STR built is not filed
    due = Case.str_due_at.is_not(None) & Case.status.in_(unfiled)
    soon = await session.scalar(
        select(func.count())
        .select_from(Case)
        .where(due, Case.str_due_at > now, Case.str_due_at <= now + timedelta(days=1))
    )
    overdue = await session.scalar(select(func.count()).select_from(Case).where(due, Case.str_due_at <= now))
    return CaseSla(int(opened or 0), int(soon or 0), int(overdue or 0))
