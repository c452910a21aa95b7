"""Reads of the audit log for staff pages and exports (writes and verification are in service.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry
from core.db.keyset import KeysetPage, fetch


@dataclass(frozen=True)
class AuditFilter:
    """Empty strings and None filter nothing. `action` ending in "." is a prefix; `subject` ending in
    ":" is every object of a kind (a scan), otherwise one object (through ix_audit_log_subject_seq)."""

    actor: str = ""
    action: str = ""
    subject: str = ""
    since: datetime | None = None  # occurred at or after
    until: datetime | None = None  # occurred before


def _statement(filters: AuditFilter | None) -> Select[tuple[AuditEntry]]:
    statement = select(AuditEntry)
    if filters is None:
        return statement
    if filters.actor:
        statement = statement.where(AuditEntry.actor.startswith(filters.actor, autoescape=True))
    if filters.action:
        column = AuditEntry.action
        prefix = filters.action.endswith(".")
        statement = statement.where(
            column.startswith(filters.action, autoescape=True) if prefix else column == filters.action
        )
    if filters.subject.endswith(":"):
        statement = statement.where(AuditEntry.subject.startswith(filters.subject, autoescape=True))
    elif filters.subject:
        statement = statement.where(AuditEntry.subject == filters.subject)
    if filters.since:
        statement = statement.where(AuditEntry.occurred_at >= filters.since)
    if filters.until:
        statement = statement.where(AuditEntry.occurred_at < filters.until)
    return statement


async def audit_page(
    *, session: AsyncSession, filters: AuditFilter | None, before: int | None
) -> KeysetPage[AuditEntry]:
    """Newest first, keyset-paged on the sequence number."""
    return await fetch(session, _statement(filters), AuditEntry.seq, cursor_value=before)


async def newest_entries(
    *, session: AsyncSession, filters: AuditFilter | None, limit: int
) -> Sequence[AuditEntry]:
    statement = _statement(filters).order_by(AuditEntry.seq.desc()).limit(limit)
    return (await session.scalars(statement)).all()
