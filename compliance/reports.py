"""Regulatory reports: the STR for an escalated case, CTRs for customers over the daily
threshold, and the crypto-flows CSV. Generated XML is stored (RegulatoryReport) and kept 7 years.
Keyword-only arguments; the caller passes the session and commits."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import cases, goaml
from compliance.errors import ReportNotFound, ReportNotPossible
from compliance.gate import COUNTED, EAT
from compliance.models import KycProfile, Movement, RegulatoryReport
from core.config import ComplianceSettings
from core.identity import queries as customers
from core.money import Asset, Money


def _decimal(minor: int, asset: str) -> Decimal:
    return Money.from_minor(minor, Asset.parse(asset)).amount


def txn(m: Movement) -> goaml.Txn:
    return goaml.Txn(
        number=f"KBT-M{m.id}",
        description=f"{m.kind} of {m.asset} via Kibeti",
        at=m.created_at,
        amount_kes=_decimal(m.amount_kes, "KES"),
        kind=m.kind,
        asset=m.asset,
        amount=_decimal(m.amount_minor, m.asset),
        counterparty=m.counterparty,
    )


async def client_person(*, session: AsyncSession, customer_id: int | None) -> goaml.Person:
    profile = await session.get(KycProfile, customer_id) if customer_id is not None else None
    customer = (
        await customers.customer_view(session=session, customer_id=customer_id)
        if customer_id is not None
        else None
    )
    full_name = (profile.full_name if profile else "") or (customer.name if customer else "")
    first, middle, last = goaml.split_name(full_name)
    return goaml.Person(
        first_name=first,
        middle_name=middle,
        last_name=last,
        birthdate=profile.date_of_birth if profile else None,
        id_number=(profile.id_number if profile else "") or (customer.national_id or "" if customer else ""),
        phone=customer.phone if customer else "",
    )


async def export_str(
    *, session: AsyncSession, case_id: int, actor: str, now: datetime, settings: ComplianceSettings
) -> RegulatoryReport:
    """Build the STR for an escalated case (its evidence movements become transactions; with none,
    an activity report), store it, and mark the case "STR drafted": it is reported only when staff
    record the FRC's filing (`record_str_filing`)."""
    detail = await cases.case_detail(session=session, case_id=case_id)
    case = detail.case
    if case.status not in {s.value for s in cases.STR_STATES}:
        raise ReportNotPossible(f"case {case_id} is {case.status}: escalate it with grounds before an STR")
    indicators = sorted({a.rule_code for a in detail.alerts})
    data = goaml.ReportInput(
        report_code="STR",
        entity_reference=f"KBT-CASE-{case.id}",
        submission_date=now,
        reason=case.grounds,
        action=case.disposition_note or "Reported to the FRC; relationship under review.",
        client=await client_person(session=session, customer_id=case.customer_id),
        transactions=[txn(m) for m in detail.movements],
        indicators=indicators,
    )
    xml = goaml.build_report(data, settings)
    count = (await session.execute(select(func.count()).select_from(RegulatoryReport))).scalar_one()
    report = RegulatoryReport(
        report_code="STR",
        case_id=case.id,
        customer_id=case.customer_id,
        reference=f"KBT-STR-{case.id}-{count + 1}",
        xml=xml.decode(),
        created_by=actor,
        created_at=now,
    )
    session.add(report)
    await session.flush()
    await cases.mark_drafted(session=session, case=case, report=report, actor=actor, now=now)
    return report


async def record_str_filing(
    *,
    session: AsyncSession,
    report_id: int,
    frc_reference: str,
    filed_at: datetime,
    actor: str,
    now: datetime,
) -> RegulatoryReport:
    """Staff filed this STR with the FRC: its goAML reference and when. The case becomes reported
    (audited)."""
    locked = select(RegulatoryReport).where(RegulatoryReport.id == report_id).with_for_update()
    report = (await session.execute(locked)).scalar_one_or_none()
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    if report.case_id is None:
        raise ReportNotPossible(f"report {report_id} is not a case's STR")
    case = await cases.get_case(session=session, case_id=report.case_id)
    await cases.mark_filed(
        session=session, case=case, report=report, frc_reference=frc_reference, filed_at=filed_at,
        actor=actor, now=now,
    )  # fmt: skip
    return report


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=EAT)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class CtrCandidate:
    customer_id: int
    day: date
    total_kes: Decimal
    movements: int


async def ctr_candidates(
    *, session: AsyncSession, day: date, settings: ComplianceSettings
) -> list[CtrCandidate]:
    """Customers whose KES-valued movements on a Nairobi calendar day reach the CTR threshold."""
    start, end = day_bounds(day)
    threshold = int(settings.ctr_threshold_kes * 100)
    statement = (
        select(Movement.customer_id, func.sum(Movement.amount_kes), func.count())
        .where(Movement.created_at >= start, Movement.created_at < end, Movement.decision.in_(COUNTED))
        .group_by(Movement.customer_id)
        .having(func.sum(Movement.amount_kes) >= threshold)
        .order_by(Movement.customer_id)
    )
    rows = (await session.execute(statement)).all()
    return [CtrCandidate(int(c), day, _decimal(int(total), "KES"), int(n)) for c, total, n in rows]


async def export_ctr(
    *,
    session: AsyncSession,
    customer_id: int,
    day: date,
    actor: str,
    now: datetime,
    settings: ComplianceSettings,
) -> RegulatoryReport:
    start, end = day_bounds(day)
    statement = (
        select(Movement)
        .where(
            Movement.customer_id == customer_id,
            Movement.created_at >= start,
            Movement.created_at < end,
            Movement.decision.in_(COUNTED),
        )
        .order_by(Movement.id)
    )
    movements = list((await session.execute(statement)).scalars())
    total = sum(m.amount_kes for m in movements)
    if total < int(settings.ctr_threshold_kes * 100):
        raise ReportNotPossible(f"customer {customer_id} is under the CTR threshold on {day}")
    data = goaml.ReportInput(
        report_code="CTR",
        entity_reference=f"KBT-CTR-{customer_id}-{day.isoformat()}",
        submission_date=now,
        reason=f"Movements of KES {Decimal(total).scaleb(-2):,.2f} on {day.isoformat()}, at or above the "
        f"KES {settings.ctr_threshold_kes:,.2f} threshold",
        action="Threshold report",
        client=await client_person(session=session, customer_id=customer_id),
        transactions=[txn(m) for m in movements],
    )
    report = RegulatoryReport(
        report_code="CTR",
        customer_id=customer_id,
        reference=f"KBT-CTR-{customer_id}-{day.isoformat()}",
        xml=goaml.build_report(data, settings).decode(),
        created_by=actor,
        created_at=now,
    )
    session.add(report)
    await session.flush()
    return report


CRYPTO_FLOW_COLUMNS = (
    "movement_id",
    "created_at_utc",
    "customer_id",
    "kind",
    "asset",
    "amount",
    "amount_kes",
    "counterparty",
    "decision",
)


async def crypto_flows_csv(*, session: AsyncSession, start: datetime, end: datetime) -> str:
    """Every crypto movement in [start, end): the periodic flows file for the regulator."""
    statement = (
        select(Movement)
        .where(Movement.created_at >= start, Movement.created_at < end, Movement.asset != "KES")
        .order_by(Movement.created_at, Movement.id)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CRYPTO_FLOW_COLUMNS)
    for m in (await session.execute(statement)).scalars():
        writer.writerow(
            [
                m.id,
                m.created_at.isoformat(),
                m.customer_id,
                m.kind,
                m.asset,
                str(_decimal(m.amount_minor, m.asset)),
                str(_decimal(m.amount_kes, "KES")),
                m.counterparty,
                m.decision,
            ]
        )
    return out.getvalue()


async def get_report(*, session: AsyncSession, report_id: int) -> RegulatoryReport:
    report = await session.get(RegulatoryReport, report_id)
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    return report
