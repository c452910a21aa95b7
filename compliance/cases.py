"""Alerts and cases: raise (idempotently), group alerts into a case, assign, note, attach
evidence, escalate to an STR (the 2-day clock), dispose. Every change is a CaseEvent.
Keyword-only arguments; the caller passes the session and commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import audit_trail, reviews
from compliance.errors import (
    AlertNotFound,
    CaseNotFound,
    InvalidAssignee,
    InvalidCaseTransition,
    InvalidDisposition,
    InvalidStatusFilter,
    InvalidSuspicionTime,
    MovementNotFound,
)
from compliance.models import (
    Alert,
    AlertStatus,
    Case,
    CaseEvent,
    CaseStatus,
    Disposition,
    KycProfile,
    Movement,
    RegulatoryReport,
)
from compliance.rules import RuleHit
from core.auth import queries as staff

STR_DEADLINE = timedelta(days=2)  # POCAMLA s.44(2) as amended: within 2 days of suspicion
OPEN_STATES = (CaseStatus.OPEN, CaseStatus.INVESTIGATING)
STR_STATES = (CaseStatus.ESCALATED, CaseStatus.STR_DRAFTED, CaseStatus.REPORTED)  # an STR may be built
UNFILED_STATES = (CaseStatus.ESCALATED.value, CaseStatus.STR_DRAFTED.value)  # the 2-day clock runs


async def raise_alert(
    *,
    session: AsyncSession,
    dedupe_key: str,
    customer_id: int | None,
    source: str,
    rule_code: str,
    score: int,
    summary: str,
    details: dict[str, Any],
    movement_ids: list[int],
    now: datetime,
) -> Alert:
    """One alert per dedupe_key: raising it again returns the first."""
    existing = await _alert_by_key(session, dedupe_key)
    if existing is not None:
        return existing
    alert = Alert(
        dedupe_key=dedupe_key,
        customer_id=customer_id,
        source=source,
        rule_code=rule_code,
        score=score,
        summary=summary[:300],
        details=details,
        movement_ids=movement_ids,
        status=AlertStatus.OPEN.value,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        found = await _alert_by_key(session, dedupe_key)
        assert found is not None
        return found
    return alert


async def alert_rule_hit(
    *,
    session: AsyncSession,
    hit: RuleHit,
    customer_id: int,
    movement_id: int,
    source: str,
    mode: str,
    now: datetime,
) -> Alert:
    """The alert for a monitoring rule's hit on a movement: one per rule and movement."""
    return await raise_alert(
        session=session,
        dedupe_key=f"rule:{hit.code}:{movement_id}",
        customer_id=customer_id,
        source=source,
        rule_code=hit.code,
        score=hit.score,
        summary=hit.explanation,
        details={"facts": hit.facts, "mode": mode, "explanation": hit.explanation},
        movement_ids=hit.movement_ids,
        now=now,
    )


async def _alert_by_key(session: AsyncSession, dedupe_key: str) -> Alert | None:
    return (await session.execute(select(Alert).where(Alert.dedupe_key == dedupe_key))).scalar_one_or_none()


async def get_alert(*, session: AsyncSession, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return alert


async def list_alerts(
    *, session: AsyncSession, status: str | None = None, customer_id: int | None = None, limit: int = 100
) -> list[Alert]:
    statement = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if status:
        statement = statement.where(Alert.status == parse_alert_status(status).value)
    if customer_id is not None:
        statement = statement.where(Alert.customer_id == customer_id)
    return list((await session.execute(statement)).scalars())


async def dismiss_alert(
    *, session: AsyncSession, alert_id: int, actor: str, note: str, now: datetime
) -> Alert:
    alert = await get_alert(session=session, alert_id=alert_id)
    if alert.status != AlertStatus.OPEN.value:
        raise InvalidCaseTransition(f"alert {alert_id} is {alert.status}, not open")
    alert.status = AlertStatus.DISMISSED.value
    alert.details = {
        **alert.details,
        "dismissed_by": actor,
        "dismissal_note": note,
        "dismissed_at": now.isoformat(),
    }
    if alert.source == "sanctions" and alert.customer_id is not None:
        await _clear_sanctions_hold(session, alert.customer_id, now)
    # a dismissed alert holds nothing: its held movements are released (the customer is told)
    await reviews.release_for_alert(
        session=session, movement_ids=list(alert.movement_ids), actor=actor, now=now
    )
    await audit_trail.record(
        session=session,
        actor=actor,
        action="alert.dismissed",
        subject=f"alert:{alert.id}",
        now=now,
        details={"customer_id": alert.customer_id, "source": alert.source, "rule": alert.rule_code},
    )
    return alert


async def _clear_sanctions_hold(session: AsyncSession, customer_id: int, now: datetime) -> None:
    """A person decided the sanctions hit is not this customer: the gate stops holding them
    (until a new list version raises a new alert)."""
    profile = await session.get(KycProfile, customer_id)
    if profile is not None and profile.sanctions_outcome != "clear":
        profile.sanctions_outcome = "clear"
        profile.updated_at = now


def _event(case: Case, kind: str, actor: str, now: datetime, text: str = "", **extra: Any) -> CaseEvent:
    movement_id = extra.pop("movement_id", None)
    return CaseEvent(
        case_id=case.id,
        kind=kind,
        actor=actor,
        text=text,
        movement_id=movement_id,
        data=extra,
        created_at=now,
    )


async def get_case(*, session: AsyncSession, case_id: int) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


async def open_case(
    *,
    session: AsyncSession,
    title: str,
    actor: str,
    now: datetime,
    alert_ids: list[int] | None = None,
    customer_id: int | None = None,
    priority: str = "normal",
) -> Case:
    """Open a case from zero or more open alerts; their movements become evidence."""
    alerts = [await get_alert(session=session, alert_id=a) for a in alert_ids or []]
    for alert in alerts:
        if alert.status != AlertStatus.OPEN.value:
            raise InvalidCaseTransition(f"alert {alert.id} is {alert.status}, not open")
    customer = customer_id if customer_id is not None else next((a.customer_id for a in alerts), None)
    case = Case(
        title=title[:200],
        customer_id=customer,
        status=CaseStatus.OPEN.value,
        priority=priority,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    session.add(_event(case, "status", actor, now, "opened", status=CaseStatus.OPEN.value))
    seen: set[int] = set()
    for alert in alerts:
        alert.status, alert.case_id = AlertStatus.IN_CASE.value, case.id
        session.add(_event(case, "alert", actor, now, alert.summary, alert_id=alert.id, rule=alert.rule_code))
        for movement_id in alert.movement_ids:
            if movement_id not in seen:
                seen.add(movement_id)
                session.add(
                    _event(case, "evidence", actor, now, f"from alert {alert.id}", movement_id=movement_id)
                )
    await session.flush()
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.opened",
        subject=f"case:{case.id}",
        now=now,
        details={"customer_id": customer, "priority": priority, "alert_ids": [a.id for a in alerts]},
    )
    return case


async def active_staff_email(*, session: AsyncSession, email: str) -> str:
    """The assignee must be an active staff user (named by e-mail, as they sign in)."""
    found = await staff.staff_member_by_email(session=session, email=email)
    if found is None:
        raise InvalidAssignee(f"{email!r} is not a staff user; assign to a staff e-mail address")
    if not found.active:
        raise InvalidAssignee(f"{found.email} is not an active staff user")
    return found.email


async def assign(*, session: AsyncSession, case_id: int, assignee: str, actor: str, now: datetime) -> Case:
    case = await get_case(session=session, case_id=case_id)
    _require(case, (*OPEN_STATES, CaseStatus.ESCALATED), "assign")
    assignee = await active_staff_email(session=session, email=assignee)
    case.assigned_to = assignee
    if case.status == CaseStatus.OPEN.value:
        case.status = CaseStatus.INVESTIGATING.value
    case.updated_at = now
    session.add(_event(case, "assign", actor, now, f"assigned to {assignee}", assignee=assignee))
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.assigned",
        subject=f"case:{case.id}",
        now=now,
        details={"assignee": assignee},
    )
    return case


async def add_note(*, session: AsyncSession, case_id: int, actor: str, text: str, now: datetime) -> CaseEvent:
    case = await get_case(session=session, case_id=case_id)
    if not text.strip():
        raise InvalidCaseTransition("a note needs some text")
    event = _event(case, "note", actor, now, text.strip())
    session.add(event)
    case.updated_at = now
    await session.flush()
    return event


async def add_evidence(
    *, session: AsyncSession, case_id: int, movement_id: int, actor: str, note: str, now: datetime
) -> CaseEvent:
    case = await get_case(session=session, case_id=case_id)
    if await session.get(Movement, movement_id) is None:
        raise MovementNotFound(f"no movement {movement_id}")
    event = _event(case, "evidence", actor, now, note, movement_id=movement_id)
    session.add(event)
    case.updated_at = now
    await session.flush()
    return event


async def escalate(
    *,
    session: AsyncSession,
    case_id: int,
    actor: str,
    grounds: str,
    now: datetime,
    suspicion_at: datetime | None = None,
) -> Case:
    """Suspicion formed: an STR is due within 2 days of `suspicion_at` (default: now)."""
    case = await get_case(session=session, case_id=case_id)
    _require(case, OPEN_STATES, "escalate")
    if not grounds.strip():
        raise InvalidCaseTransition("escalating to an STR needs the grounds for suspicion")
    if suspicion_at is not None and (suspicion_at.tzinfo is None or suspicion_at > now):
        raise InvalidSuspicionTime(
            "suspicion_at must be a past time with a time zone (e.g. ...T09:00:00+03:00)"
        )
    case.status = CaseStatus.ESCALATED.value
    case.grounds = grounds.strip()
    case.suspicion_at = suspicion_at or now
    case.str_due_at = case.suspicion_at + STR_DEADLINE
    case.updated_at = now
    session.add(_event(case, "status", actor, now, "escalated to STR", due=case.str_due_at.isoformat()))
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.escalated",
        subject=f"case:{case.id}",
        now=now,
        details={
            "customer_id": case.customer_id,
            "suspicion_at": case.suspicion_at.isoformat(),
            "str_due_at": case.str_due_at.isoformat(),
        },
    )
    return case


async def mark_drafted(
    *, session: AsyncSession, case: Case, report: RegulatoryReport, actor: str, now: datetime
) -> None:
    """The STR's XML is built: drafted, not filed (nothing reached the FRC yet; the clock runs on).
    A case already reported keeps its status (a corrected STR is drafted for it)."""
    _require(case, STR_STATES, "draft an STR for")
    if case.status != CaseStatus.REPORTED.value:
        case.status = CaseStatus.STR_DRAFTED.value
    case.updated_at = now
    session.add(_event(case, "report", actor, now, f"STR {report.reference} drafted", report_id=report.id))
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.str_drafted",
        subject=f"case:{case.id}",
        now=now,
        details={"report_id": report.id, "reference": report.reference, "customer_id": case.customer_id},
    )


async def mark_filed(
    *,
    session: AsyncSession,
    case: Case,
    report: RegulatoryReport,
    frc_reference: str,
    filed_at: datetime,
    actor: str,
    now: datetime,
) -> None:
    """Staff filed the drafted STR with the FRC (goAML): its reference and date make the case reported."""
    _require(case, (CaseStatus.STR_DRAFTED, CaseStatus.REPORTED), "record the STR filing of")
    if report.case_id != case.id or report.report_code != "STR":
        raise InvalidCaseTransition(f"report {report.id} is not an STR of case {case.id}")
    if report.frc_reference:
        raise InvalidCaseTransition(f"STR {report.reference} was filed already ({report.frc_reference})")
    if not frc_reference.strip() or filed_at.tzinfo is None or filed_at > now:
        raise InvalidCaseTransition("record the FRC's reference and a past filing time with a time zone")
    report.frc_reference, report.submitted_at = frc_reference.strip()[:64], filed_at
    case.status = CaseStatus.REPORTED.value
    case.updated_at = now
    text = f"STR {report.reference} filed with the FRC as {report.frc_reference}"
    session.add(
        _event(case, "report", actor, now, text, report_id=report.id, frc_reference=report.frc_reference,
               filed_at=filed_at.isoformat())
    )  # fmt: skip
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.str_filed",
        subject=f"case:{case.id}",
        now=now,
        details={
            "report_id": report.id,
            "reference": report.reference,
            "frc_reference": report.frc_reference,
            "filed_at": filed_at.isoformat(),
            "customer_id": case.customer_id,
        },
    )


async def close(
    *, session: AsyncSession, case_id: int, disposition: str, note: str, actor: str, now: datetime
) -> Case:
    case = await get_case(session=session, case_id=case_id)
    value = parse_disposition(disposition)
    if value is Disposition.STR_FILED:
        _require(case, (CaseStatus.REPORTED,), "close as STR filed")
    elif case.status in UNFILED_STATES:
        raise InvalidCaseTransition("an escalated case is closed by filing its STR")
    else:
        _require(case, OPEN_STATES, "close")
    if value in (Disposition.FALSE_POSITIVE, Disposition.NO_FURTHER_ACTION):
        alerts = list((await session.execute(select(Alert).where(Alert.case_id == case.id))).scalars())
        if case.customer_id is not None and any(a.source == "sanctions" for a in alerts):
            await _clear_sanctions_hold(session, case.customer_id, now)
        # nothing suspicious after all: what the case's alerts held is released (the customer is told)
        held = [m for a in alerts for m in a.movement_ids]
        await reviews.release_for_alert(session=session, movement_ids=held, actor=actor, now=now)
    case.status = CaseStatus.CLOSED.value
    case.disposition = value.value
    case.disposition_note = note
    case.closed_at = case.updated_at = now
    session.add(_event(case, "status", actor, now, f"closed: {value.value}", disposition=value.value))
    await audit_trail.record(
        session=session,
        actor=actor,
        action="case.closed",
        subject=f"case:{case.id}",
        now=now,
        details={"disposition": value.value, "customer_id": case.customer_id},
    )
    return case


def parse_disposition(text: str) -> Disposition:
    try:
        return Disposition(text)
    except ValueError as exc:
        valid = ", ".join(d.value for d in Disposition)
        raise InvalidDisposition(f"unknown disposition {text!r}; use one of {valid}") from exc


def parse_case_status(text: str) -> CaseStatus:
    try:
        return CaseStatus(text)
    except ValueError as exc:
        valid = ", ".join(s.value for s in CaseStatus)
        raise InvalidStatusFilter(f"unknown case status {text!r}; use one of {valid}") from exc


def parse_alert_status(text: str) -> AlertStatus:
    try:
        return AlertStatus(text)
    except ValueError as exc:
        valid = ", ".join(s.value for s in AlertStatus)
        raise InvalidStatusFilter(f"unknown alert status {text!r}; use one of {valid}") from exc


def _require(case: Case, states: tuple[CaseStatus, ...], action: str) -> None:
    if case.status not in {s.value for s in states}:
        raise InvalidCaseTransition(f"cannot {action} case {case.id}: it is {case.status}")


async def overdue_strs(*, session: AsyncSession, now: datetime) -> list[Case]:
    statement = select(Case).where(Case.status.in_(UNFILED_STATES), Case.str_due_at < now)
    return list((await session.execute(statement.order_by(Case.str_due_at))).scalars())


async def list_cases(*, session: AsyncSession, status: str | None = None, limit: int = 100) -> list[Case]:
    statement = select(Case).order_by(Case.id.desc()).limit(limit)
    if status:
        statement = statement.where(Case.status == parse_case_status(status).value)
    return list((await session.execute(statement)).scalars())


@dataclass
class CaseDetail:
    case: Case
    events: list[CaseEvent]
    alerts: list[Alert]
    movements: list[Movement]


async def case_detail(*, session: AsyncSession, case_id: int) -> CaseDetail:
    case = await get_case(session=session, case_id=case_id)
    events = list(
        (
            await session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        ).scalars()
    )
    alerts = list((await session.execute(select(Alert).where(Alert.case_id == case_id))).scalars())
    ids = sorted({e.movement_id for e in events if e.kind == "evidence" and e.movement_id is not None})
    movements = (
        list(
            (
                await session.execute(select(Movement).where(Movement.id.in_(ids)).order_by(Movement.id))
            ).scalars()
        )
        if ids
        else []
    )
    return CaseDetail(case, events, alerts, movements)
