"""Write jobs into the outbox inside the caller's transaction, relay them, mark them done."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.base import utcnow
from core.outbox.models import OutboxJob, OutboxStatus
from core.ports import JobQueue

REDISPATCH_AFTER = timedelta(seconds=60)
RUNNER = "core.outbox.jobs.run"


async def enqueue(
    *,
    session: AsyncSession,
    job: str,
    kwargs: dict[str, Any],
    dedupe_key: str,
    queue: str = "default",
) -> int:
    """Stage a job in the caller's transaction. The same dedupe_key stages it once; returns the row id.

    `job` is a dotted path to a module-level async function called with `kwargs` (JSON-safe).
    """
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(OutboxJob)
    statement = (
        insert.values(
            dedupe_key=dedupe_key,
            job=job,
            queue=queue,
            kwargs=kwargs,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(OutboxJob.id)
    )
    row_id = (await session.execute(statement)).scalar_one_or_none()
    if row_id is None:
        row_id = (
            await session.execute(select(OutboxJob.id).where(OutboxJob.dedupe_key == dedupe_key))
        ).scalar_one()
    return int(row_id)


async def mark_done(*, session: AsyncSession, outbox_id: int) -> None:
    await session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id)
        .values(status=OutboxStatus.DONE.value, done_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def relay(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    now: Callable[[], datetime] = utcnow,
    batch: int = 200,
) -> int:
    """Dispatch pending rows, and re-dispatch rows whose job vanished from the queue.

    At-least-once: a crash between enqueue and the status update dispatches again, so every job
    must be idempotent. Returns how many jobs were (re-)dispatched.
    """
    stale_before = now() - REDISPATCH_AFTER
    async with session_factory() as session:
        query = (
            select(OutboxJob)
            .where(
                or_(
                    OutboxJob.status == OutboxStatus.PENDING.value,
                    (OutboxJob.status == OutboxStatus.DISPATCHED.value)
                    & (OutboxJob.dispatched_at < stale_before),
                )
            )
            .order_by(OutboxJob.id)
            .limit(batch)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).scalars().all()
        dispatched = 0
        for row in rows:
            if row.status == OutboxStatus.DISPATCHED.value and queue.is_pending(row.job_id):
                row.dispatched_at = now()
                continue
            row.attempts += 1
            queue.enqueue(RUNNER, job_id=row.job_id, kwargs={"outbox_id": row.id}, queue=row.queue)
            row.status = OutboxStatus.DISPATCHED.value
            row.dispatched_at = now()
            dispatched += 1
        await session.commit()
    return dispatched
