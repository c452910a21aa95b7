"""core.outbox.service.run_after_commit on both databases: a row staged `here` in a session that opted
in is written `dispatched` and listed for the staging process to run after its commit; the relay
leaves it alone while it is fresh and dispatches it once overdue (its owner died or it failed); a
session that did not opt in stages it as usual; a rolled-back row is never run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.outbox import service
from core.outbox.models import OutboxJob, OutboxStatus

Factory = async_sessionmaker[AsyncSession]
JOB = "tests.integration.outbox.targets.plain"


class RecordingQueue:
    def __init__(self) -> None:
        self.enqueued: list[dict[str, Any]] = []

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self.enqueued.append({"job": job, "job_id": job_id, "kwargs": kwargs})

    def is_pending(self, job_id: str) -> bool:
        return False  # nothing of ours is in a queue


async def _row(factory: Factory, row_id: int) -> OutboxJob:
    async with factory() as session:
        return (await session.execute(select(OutboxJob).where(OutboxJob.id == row_id))).scalar_one()


async def test_a_row_staged_here_is_dispatched_and_listed_for_its_own_process(
    session_factory: Factory,
) -> None:
    async with session_factory() as session:
        staged = service.run_after_commit(session)
        row_id = await service.enqueue(
            session=session, job=JOB, kwargs={"note": "a"}, dedupe_key="a", here=True
        )
        again = await service.enqueue(
            session=session, job=JOB, kwargs={"note": "a"}, dedupe_key="a", here=True
        )
        await session.commit()
    assert again == row_id
    assert staged == [service.Staged(outbox_id=row_id, job=JOB, kwargs={"note": "a"})]  # listed once
    row = await _row(session_factory, row_id)
    assert (row.status, row.attempts) == (OutboxStatus.DISPATCHED.value, 1) and row.dispatched_at is not None

    queue = RecordingQueue()
    assert await service.relay(session_factory=session_factory, queue=queue) == 0  # fresh: its owner runs it
    overdue = row.dispatched_at + service.REDISPATCH_AFTER * 2
    assert await service.relay(session_factory=session_factory, queue=queue, now=lambda: overdue) == 1
    assert queue.enqueued[0]["kwargs"] == {"outbox_id": row_id}  # the owner died or failed: the queue runs it


async def test_without_opting_in_here_stages_as_usual(session_factory: Factory) -> None:
    async with session_factory() as session:
        row_id = await service.enqueue(
            session=session, job=JOB, kwargs={"note": "b"}, dedupe_key="b", here=True
        )
        await session.commit()
    assert (await _row(session_factory, row_id)).status == OutboxStatus.PENDING.value


async def test_a_rolled_back_row_is_not_run(session_factory: Factory) -> None:
    async with session_factory() as session:
        staged = service.run_after_commit(session)
        await service.enqueue(session=session, job=JOB, kwargs={"note": "c"}, dedupe_key="c", here=True)
        await session.rollback()
        service.discard_staged(session)
    assert staged == []
