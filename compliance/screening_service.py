"""Screening against the active list, recorded: customers (onboarding, re-screen after every list
change) and crypto addresses (withdrawal destinations, deposit sources). A block freezes nothing by
itself here; the gate denies, and a block or alert raises an alert (a block also opens a case)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import cases
from compliance.models import KycProfile, ScreeningResult
from compliance.sanctions.loader import SanctionsList
from compliance.sanctions.screening import _RANK, Outcome, Subject, screen

ALERTING = (Outcome.ALERT, Outcome.BLOCK, Outcome.REVIEW)


def _score(result_score: float) -> int:
    return round(result_score * 1000)


async def record(
    *,
    session: AsyncSession,
    lists: SanctionsList,
    subject_type: str,
    subject_ref: str,
    customer_id: int | None,
    subject: Subject,
    now: datetime,
) -> tuple[ScreeningResult, Outcome]:
    result = screen(lists, subject)
    row = ScreeningResult(
        subject_type=subject_type,
        subject_ref=subject_ref[:128],
        customer_id=customer_id,
        outcome=result.outcome.value,
        score=_score(result.score),
        list_version=lists.version,
        details=result.to_dict(),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    if result.outcome in ALERTING:
        top = result.matches[0]
        alert = await cases.raise_alert(
            session=session,
            dedupe_key=f"sanctions:{subject_type}:{subject_ref}:{lists.version}:{result.outcome.value}",
            customer_id=customer_id,
            source="sanctions",
            rule_code=f"sanctions_{result.outcome.value}",
            score=_score(result.score),
            summary=f"{subject_type} screening {result.outcome.value}: {top.listed_name} "
            f"({top.reason}, score {top.score:.3f}, {top.entity_key})",
            details={"screening_result_id": row.id, **result.to_dict()},
            movement_ids=[],
            now=now,
        )
        if result.outcome is Outcome.BLOCK and alert.case_id is None and alert.status == "open":
            await cases.open_case(
                session=session,
                title=f"Sanctions block: {subject_type} {subject_ref[:60]}",
                actor="system",
                now=now,
                alert_ids=[alert.id],
                customer_id=customer_id,
                priority="high",
            )
    return row, result.outcome


async def screen_customer(
    *, session: AsyncSession, lists: SanctionsList, profile: KycProfile, now: datetime
) -> Outcome:
    """Screen a profile's name, DOB and ID; store the outcome on the profile."""
    subject = Subject(
        name=profile.full_name, date_of_birth=profile.date_of_birth, id_number=profile.id_number
    )
    if not (subject.name or subject.id_number):
        return Outcome.CLEAR
    _row, outcome = await record(
        session=session,
        lists=lists,
        subject_type="customer",
        subject_ref=str(profile.customer_id),
        customer_id=profile.customer_id,
        subject=subject,
        now=now,
    )
    profile.sanctions_outcome = outcome.value
    profile.sanctions_score = _row.score
    profile.sanctions_checked_at = now
    profile.sanctions_list_version = lists.version
    return outcome


async def screen_address(
    *, session: AsyncSession, lists: SanctionsList, address: str, customer_id: int | None, now: datetime
) -> Outcome:
    _row, outcome = await record(
        session=session,
        lists=lists,
        subject_type="address",
        subject_ref=address,
        customer_id=customer_id,
        subject=Subject(address=address),
        now=now,
    )
    return outcome


async def screen_business(
    *, session: AsyncSession, lists: SanctionsList, subject_ref: str, names: list[str], now: datetime
) -> Outcome:
    """A merchant's business name and directors, each screened and recorded; the worst outcome."""
    worst = Outcome.CLEAR
    for name in dict.fromkeys(" ".join(n.split()) for n in names if n.strip()):
        _row, outcome = await record(
            session=session,
            lists=lists,
            subject_type="merchant",
            subject_ref=f"{subject_ref}:{name}",
            customer_id=None,
            subject=Subject(name=name),
            now=now,
        )
        if _RANK[outcome] > _RANK[worst]:
            worst = outcome
    return worst


async def screenable_ids(*, session: AsyncSession, first: int = 0, last: int | None = None) -> list[int]:
    statement = (
        select(KycProfile.customer_id)
        .where((KycProfile.full_name != "") | (KycProfile.id_number != ""), KycProfile.customer_id >= first)
        .order_by(KycProfile.customer_id)
    )
    if last is not None:
        statement = statement.where(KycProfile.customer_id <= last)
    return list((await session.execute(statement)).scalars())


@dataclass
class RescreenSummary:
    screened: int = 0
    outcomes: dict[str, int] | None = None


async def rescreen_all(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    lists: SanctionsList,
    now: datetime,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
    first_customer_id: int = 0,
    last_customer_id: int | None = None,
) -> RescreenSummary:
    """Screen every profile with a name or ID (optionally only customer ids in
    [first_customer_id, last_customer_id]) against `lists`, in committed batches."""
    async with session_factory() as session:
        ids = await screenable_ids(session=session, first=first_customer_id, last=last_customer_id)
    summary = RescreenSummary(outcomes={o.value: 0 for o in Outcome})
    assert summary.outcomes is not None
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        async with session_factory() as session, session.begin():
            profiles = (
                await session.execute(select(KycProfile).where(KycProfile.customer_id.in_(chunk)))
            ).scalars()
            for profile in profiles:
                outcome = await screen_customer(session=session, lists=lists, profile=profile, now=now)
                summary.outcomes[outcome.value] += 1
                summary.screened += 1
        if progress:
            progress(summary.screened, len(ids))
    return summary
