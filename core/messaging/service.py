"""Queries and writes on the SMS tables. Every write is idempotent: AT repeats callbacks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.messaging import status as statuses
from core.messaging.commands import Command
from core.messaging.models import InboundSms, SentSms, SmsPreference, SmsRetryRule

_ATTEMPT = re.compile(r"^(?P<base>.*)#r(?P<attempt>[0-9]{1,3})$")


def attempt_of(reference: str) -> tuple[str, int]:
    """A resend's reference is the first send's with `#r<attempt>`: (first reference, attempt)."""
    match = _ATTEMPT.match(reference)
    if match is None:
        return reference, 1
    return match["base"], int(match["attempt"])


def resend_reference(reference: str, attempt: int) -> str:
    return f"{attempt_of(reference)[0]}#r{attempt}"


async def record_sent(
    session: AsyncSession, *, reference: str, message_id: str, phone: str, text: str | None, now: datetime
) -> SentSms:
    """Remember a message AT accepted, so its delivery reports can be matched by messageId."""
    existing = await session.scalar(select(SentSms).where(SentSms.reference == reference))
    if existing is not None:
        return existing
    row = SentSms(
        reference=reference,
        message_id=message_id,
        phone=phone,
        text=text,
        attempt=attempt_of(reference)[1],
        status=statuses.ACCEPTED,
        sent_at=now,
        status_at=now,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class Report:
    message_id: str
    status: str
    failure_reason: str | None
    network_code: str | None


async def apply_report(session: AsyncSession, *, report: Report, now: datetime) -> str:
    """Apply one delivery report. Returns 'updated', 'stale' (ordering or repeat) or 'unknown'."""
    row = await session.scalar(
        select(SentSms).where(SentSms.message_id == report.message_id).with_for_update()
    )
    if row is None:
        return "unknown"
    if not statuses.replaces(row.status, report.status):
        return "stale"
    row.status = report.status
    row.failure_reason = report.failure_reason if report.status in statuses.FAILED else None
    row.network_code = report.network_code or row.network_code
    row.status_at = now
    if report.status in statuses.FAILED:
        row.retry_due_at = await _retry_due(session, row, now)
    await session.flush()
    return "updated"


async def _retry_due(session: AsyncSession, row: SentSms, now: datetime) -> datetime | None:
    if row.text is None:  # a one-time code is never stored, so never resent: the customer asks again
        return None
    rule = await session.get(SmsRetryRule, row.failure_reason or "*") or await session.get(SmsRetryRule, "*")
    if rule is None or row.attempt >= rule.max_attempts:
        return None
    return now + timedelta(seconds=rule.delay_seconds)


@dataclass(frozen=True)
class DueResend:
    sent_id: int
    phone: str
    text: str
    reference: str  # the next attempt's


async def due_resends(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[DueResend]:
    query = (
        select(SentSms)
        .where(SentSms.retry_due_at.is_not(None), SentSms.retry_due_at <= now, SentSms.text.is_not(None))
        .order_by(SentSms.retry_due_at)
        .limit(limit)
    )
    return [
        DueResend(row.id, row.phone, row.text or "", resend_reference(row.reference, row.attempt + 1))
        for row in (await session.scalars(query)).all()
    ]


async def mark_resent(session: AsyncSession, *, sent_id: int) -> None:
    await session.execute(update(SentSms).where(SentSms.id == sent_id).values(retry_due_at=None))


async def already_received(session: AsyncSession, *, at_id: str) -> bool:
    return await session.scalar(select(InboundSms.id).where(InboundSms.at_id == at_id)) is not None


async def record_inbound(
    session: AsyncSession, *, at_id: str, phone: str, command: Command, now: datetime
) -> bool:
    """True the first time AT's id is seen; False for AT's retry of the same message."""
    if await already_received(session, at_id=at_id):
        return False
    session.add(InboundSms(at_id=at_id, phone=phone, command=command.value, received_at=now))
    await session.flush()
    return True


async def set_marketing_opt_out(session: AsyncSession, *, phone: str, opt_out: bool, now: datetime) -> None:
    row = await session.get(SmsPreference, phone)
    if row is None:
        session.add(SmsPreference(phone=phone, marketing_opt_out=opt_out, updated_at=now))
    else:
        row.marketing_opt_out = opt_out
        row.updated_at = now
    await session.flush()


async def marketing_opt_out(session: AsyncSession, *, phone: str) -> bool:
    row = await session.get(SmsPreference, phone)
    return bool(row and row.marketing_opt_out)
