"""core.outbox.jobs.run on both databases: a plain target runs once per undone row and the runner
marks the row done; a `marks_row_done` target gets the row id and is left to mark it itself, and
runs without the row being read when the relay sent the job along."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.outbox import jobs, service
from core.outbox.models import OutboxJob, OutboxStatus
from core.runtime import Runtime
from tests.integration.outbox import targets
from webapp.queues import InProcessJobQueue

# An event loop leaked by an earlier test (pytest-asyncio's, seen after tests/unit/payouts) may be
# garbage-collected during these tests' setup; it is not theirs (as in tests/integration/payouts).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
Factory = async_sessionmaker[AsyncSession]
PLAIN = "tests.integration.outbox.targets.plain"
SELF_MARKING = "tests.integration.outbox.targets.self_marking"


class RecordingQueue:
    def __init__(self) -> None:
        self.enqueued: list[dict[str, Any]] = []

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self.enqueued.append({"job": job, "job_id": job_id, "kwargs": kwargs, "queue": queue})

    def is_pending(self, job_id: str) -> bool:
        return False


@pytest.fixture
def installed(session_factory: Factory) -> Iterator[None]:
    current = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=session_factory,
        clock=FixedClock(),
        queue=InProcessJobQueue(),
    )
    runtime_module.install(current)
    targets.calls.clear()
    yield
    targets.calls.clear()


async def _stage(factory: Factory, job: str, note: str) -> int:
    async with factory() as session:
        row_id = await service.enqueue(session=session, job=job, kwargs={"note": note}, dedupe_key=note)
        await session.commit()
    return row_id


async def _status(factory: Factory, row_id: int) -> str:
    async with factory() as session:
        return str(
            (await session.execute(select(OutboxJob.status).where(OutboxJob.id == row_id))).scalar_one()
        )


async def test_relay_sends_the_job_along_only_for_a_target_that_marks_its_own_row(
    session_factory: Factory,
) -> None:
    """Other rows' kwargs (phone numbers, SMS texts) stay in the database, out of Redis."""
    plain = await _stage(session_factory, PLAIN, "a")
    marking = await _stage(session_factory, SELF_MARKING, "b")
    queue = RecordingQueue()
    assert await service.relay(session_factory=session_factory, queue=queue) == 2
    assert [sent["job"] for sent in queue.enqueued] == [service.RUNNER, service.RUNNER]
    assert [sent["kwargs"] for sent in queue.enqueued] == [
        {"outbox_id": plain},
        {"outbox_id": marking, "job": SELF_MARKING, "kwargs": {"note": "b"}},
    ]
    assert await _status(session_factory, plain) == OutboxStatus.DISPATCHED.value


@pytest.mark.usefixtures("installed")
async def test_plain_target_runs_then_the_runner_marks_the_row_done_and_a_redelivery_does_nothing(
    session_factory: Factory,
) -> None:
    row_id = await _stage(session_factory, PLAIN, "p")
    await jobs.run(row_id, job=PLAIN, kwargs={"note": "p"})
    assert targets.calls == [("plain", {"note": "p"})]
    assert await _status(session_factory, row_id) == OutboxStatus.DONE.value
    await jobs.run(row_id, job=PLAIN, kwargs={"note": "p"})  # at-least-once delivery
    await jobs.run(row_id)  # an entry queued before the relay sent the job along
    assert targets.calls == [("plain", {"note": "p"})]


@pytest.mark.usefixtures("installed")
async def test_old_queue_entries_with_only_the_id_still_run(session_factory: Factory) -> None:
    row_id = await _stage(session_factory, PLAIN, "old")
    await jobs.run(row_id)
    assert targets.calls == [("plain", {"note": "old"})]
    assert await _status(session_factory, row_id) == OutboxStatus.DONE.value
    await jobs.run(10_000_000)  # no such row: nothing to do


@pytest.mark.usefixtures("installed")
async def test_a_target_that_marks_its_row_done_gets_the_id_and_the_runner_leaves_the_row_to_it(
    session_factory: Factory,
) -> None:
    waiting = await _stage(session_factory, SELF_MARKING, "wait")
    await jobs.run(waiting, job=SELF_MARKING, kwargs={"note": "wait"})
    assert await _status(session_factory, waiting) == OutboxStatus.PENDING.value  # not the runner's call

    finished = await _stage(session_factory, SELF_MARKING, "finish")
    await jobs.run(finished)  # only the id: the runner reads the row, then hands the id on
    assert await _status(session_factory, finished) == OutboxStatus.DONE.value
    assert targets.calls == [
        ("self_marking", {"note": "wait", "outbox_id": waiting}),
        ("self_marking", {"note": "finish", "outbox_id": finished}),
    ]


@pytest.mark.usefixtures("installed")
async def test_with_the_job_sent_along_a_self_marking_target_runs_without_the_row_being_read(
    session_factory: Factory,
) -> None:
    """Its own claim decides whether work is left, so even a row already done reaches it."""
    row_id = await _stage(session_factory, SELF_MARKING, "finish")
    await jobs.run(row_id, job=SELF_MARKING, kwargs={"note": "finish"})
    await jobs.run(row_id, job=SELF_MARKING, kwargs={"note": "finish"})
    assert [call[0] for call in targets.calls] == ["self_marking", "self_marking"]
    await jobs.run(row_id)  # without the job: the runner reads the row and sees it done
    assert len(targets.calls) == 2


async def test_pending_job_and_finish(session_factory: Factory) -> None:
    row_id = await _stage(session_factory, PLAIN, "f")
    assert await service.pending_job(session_factory=session_factory, outbox_id=row_id) == (
        PLAIN,
        {"note": "f"},
    )
    await service.finish(session_factory=session_factory, outbox_id=row_id)
    assert await service.pending_job(session_factory=session_factory, outbox_id=row_id) is None
    async with session_factory() as session:
        row = await session.get(OutboxJob, row_id)
        assert row is not None and row.status == OutboxStatus.DONE.value and row.done_at is not None
