"""Reads of configuration changes for staff pages (proposals and decisions: service.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.configchanges.models import ConfigChange
from core.configchanges.types import ChangeStatus
from core.db.keyset import KeysetPage, fetch


async def pending_changes(*, session: AsyncSession) -> Sequence[ConfigChange]:
    """Every change waiting for a checker, oldest first."""
    statement = select(ConfigChange).where(ConfigChange.status == ChangeStatus.PENDING.value)
    return (await session.scalars(statement.order_by(ConfigChange.id))).all()


async def decided_changes(*, session: AsyncSession, before: int | None) -> KeysetPage[ConfigChange]:
    """Approved and rejected changes, newest first, keyset-paged on the id."""
    statement = select(ConfigChange).where(ConfigChange.status != ChangeStatus.PENDING.value)
    return await fetch(session, statement, ConfigChange.id, cursor_value=before)


async def recent_changes(
    *, session: AsyncSession, status: str = "", before: int | None = None, limit: int = 50
) -> Sequence[ConfigChange]:
    """The newest changes, newest first: of one status ("" any), with an id below `before` (None: any)."""
    statement = select(ConfigChange).order_by(ConfigChange.id.desc()).limit(limit)
    if status:
        statement = statement.where(ConfigChange.status == status)
    if before is not None:
        statement = statement.where(ConfigChange.id < before)
    return (await session.scalars(statement)).all()
