"""Reads of compliance's tables for the staff portal's pages: the KYC queue and a profile's documents
and screenings, tier limit changes, alerts and cases, a case's reports, and the counts the dashboard
shows (writes: kyc.py, cases.py, reports.py). List pages are keyset-paged (core.db.keyset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.gate import IDENTITY_WAITING
from compliance.models import (
    Alert,
    Case,
    CaseStatus,
    KycDocument,
    KycProfile,
    LimitChange,
    RegulatoryReport,
    ScreeningResult,
)
from core.db.keyset import KeysetPage, fetch


def _kyc_waiting() -> ColumnElement[bool]:
    """Profiles waiting for a person: an identity the registry did not settle, or T2 documents."""
    return or_(
        (KycProfile.tier == 0) & KycProfile.iprs_status.in_(sorted(IDENTITY_WAITING)),
        KycProfile.t2_review == "pending",
    )


async def kyc_queue(*, session: AsyncSession, after: int | None) -> KeysetPage[KycProfile]:
    """Profiles waiting for a person, oldest customer first, keyset-paged on the customer id."""
    statement = select(KycProfile).where(_kyc_waiting())
    return await fetch(session, statement, KycProfile.customer_id, cursor_value=after, newest_first=False)


async def kyc_pending_count(*, session: AsyncSession) -> int:
    found = await session.scalar(select(func.count()).select_from(KycProfile).where(_kyc_waiting()))
    return int(found or 0)


async def kyc_documents(*, session: AsyncSession, customer_id: int) -> Sequence[KycDocument]:
    """A customer's documents in the order they came (still sealed: kyc.open_document opens one)."""
    statement = select(KycDocument).where(KycDocument.customer_id == customer_id).order_by(KycDocument.id)
    return (await session.scalars(statement)).all()


async def find_kyc_document(*, session: AsyncSession, document_id: int) -> KycDocument | None:
    return await session.get(KycDocument, document_id)


async def recent_screenings(
    *, session: AsyncSession, customer_id: int, limit: int = 20
) -> Sequence[ScreeningResult]:
    """A customer's newest sanctions screenings, newest first."""
    statement = (
        select(ScreeningResult)
        .where(ScreeningResult.customer_id == customer_id)
        .order_by(ScreeningResult.id.desc())
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def pending_limit_changes(*, session: AsyncSession) -> Sequence[LimitChange]:
    """Tier limit changes waiting for a second person, oldest first."""
    statement = select(LimitChange).where(LimitChange.status == "pending").order_by(LimitChange.id)
    return (await session.scalars(statement)).all()


async def decided_limit_changes(*, session: AsyncSession, before: int | None) -> KeysetPage[LimitChange]:
    """Approved and rejected tier limit changes, newest first, keyset-paged on the id."""
    statement = select(LimitChange).where(LimitChange.status != "pending")
    return await fetch(session, statement, LimitChange.id, cursor_value=before)


async def alerts_page(*, session: AsyncSession, status: str, before: int | None) -> KeysetPage[Alert]:
    """Alerts in one status, newest first, keyset-paged on the id."""
    return await fetch(session, select(Alert).where(Alert.status == status), Alert.id, cursor_value=before)


async def find_alert(*, session: AsyncSession, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


async def cases_page(*, session: AsyncSession, status: str, before: int | None) -> KeysetPage[Case]:
    """Cases in one status (every case when status is empty), newest first, keyset-paged on the id."""
    statement = select(Case).where(Case.status == status) if status else select(Case)
    return await fetch(session, statement, Case.id, cursor_value=before)


async def case_reports(*, session: AsyncSession, case_id: int) -> Sequence[RegulatoryReport]:
    """The regulatory reports built for a case, oldest first."""
    statement = (
        select(RegulatoryReport).where(RegulatoryReport.case_id == case_id).order_by(RegulatoryReport.id)
    )
    return (await session.scalars(statement)).all()


async def find_report(*, session: AsyncSession, report_id: int) -> RegulatoryReport | None:
    return await session.get(RegulatoryReport, report_id)


@dataclass(frozen=True)
class CaseSla:
    open: int
    str_due_soon: int  # escalated, STR due within a day
    str_overdue: int


async def case_sla(*, session: AsyncSession, now: datetime) -> CaseSla:
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
