"""compliance.queries, the staff pages' reads, on both databases: the KYC queue (who waits for a person,
oldest customer first, paged after a customer id) and its count, cases by status newest first, and the
dashboard's case and STR-deadline counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import queries
from compliance.models import Case, CaseStatus, KycProfile
from core.clock import FixedClock

Factory = async_sessionmaker[AsyncSession]


async def test_kyc_queue_holds_who_waits_for_a_person_oldest_first(factory: Factory) -> None:
    async with factory() as session, session.begin():
        session.add_all(
            [
                KycProfile(customer_id=7, tier=0, iprs_status="not_found"),  # the registry did not settle
                KycProfile(customer_id=3, tier=1, t2_review="pending"),  # T2 documents
                KycProfile(customer_id=5, tier=0, iprs_status="mismatch"),
                KycProfile(customer_id=4, tier=1, iprs_status="matched"),  # nothing to review
                KycProfile(customer_id=6, tier=2, iprs_status="not_found"),  # settled by a person already
            ]
        )
    async with factory() as session:
        first = await queries.kyc_queue(session=session, after=None)
        rest = await queries.kyc_queue(session=session, after=3)
        count = await queries.kyc_pending_count(session=session)
    assert [p.customer_id for p in first.rows] == [3, 5, 7]
    assert first.next_cursor is None
    assert [p.customer_id for p in rest.rows] == [5, 7]
    assert count == 3


async def test_cases_by_status_newest_first(factory: Factory) -> None:
    async with factory() as session, session.begin():
        for status in (CaseStatus.OPEN, CaseStatus.CLOSED, CaseStatus.OPEN):
            session.add(Case(title=f"{status.value} case", status=status.value))
    async with factory() as session:
        every = await queries.cases_page(session=session, status="", before=None)
        opened = await queries.cases_page(session=session, status=CaseStatus.OPEN.value, before=None)
    assert [c.title for c in every.rows] == ["open case", "closed case", "open case"]
    assert [c.id for c in every.rows] == sorted((c.id for c in every.rows), reverse=True)
    assert [c.status for c in opened.rows] == [CaseStatus.OPEN.value] * 2


async def test_case_sla_counts_open_cases_and_unfiled_str_deadlines(
    factory: Factory, clock: FixedClock
) -> None:
    now = clock.now()
    async with factory() as session, session.begin():
        session.add_all(
            [
                Case(title="plain", status=CaseStatus.OPEN.value),
                Case(
                    title="due soon", status=CaseStatus.ESCALATED.value, str_due_at=now + timedelta(hours=5)
                ),
                Case(
                    title="drafted, late", status=CaseStatus.STR_DRAFTED.value, str_due_at=now - timedelta(1)
                ),
                Case(
                    title="due later", status=CaseStatus.ESCALATED.value, str_due_at=now + timedelta(days=2)
                ),
                Case(title="done", status=CaseStatus.CLOSED.value, str_due_at=now - timedelta(days=1)),
            ]
        )
    async with factory() as session:
        sla = await queries.case_sla(session=session, now=now)
    assert sla == queries.CaseSla(open=4, str_due_soon=1, str_overdue=1)
