"""Reads of the outbox for operators' metrics and checks (writes and dispatch: service.py, jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.outbox.models import OutboxJob, OutboxStatus


@dataclass(frozen=True)
class Backlog:
    pending: int  # jobs not done yet
    oldest_created_at: datetime | None  # of those (None: there are none)


async def backlog(*, session: AsyncSession) -> Backlog:
    waiting = OutboxJob.status != OutboxStatus.DONE.value
    pending = int(await session.scalar(select(func.count()).where(waiting)) or 0)
    oldest = await session.scalar(select(func.min(OutboxJob.created_at)).where(waiting))
    return Backlog(pending=pending, oldest_created_at=oldest)
