"""Jobs core names (core.outbox.handlers) run what the composition root registered, on both
databases: a row staged under the name, and a row staged before it under the outer package's dotted
path (the alias). With nothing registered a named row is left undone (dispatched again), never lost.
webapp.bootstrap registers the web app's alert and case jobs under both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.outbox import handlers, jobs, service
from core.outbox.models import OutboxJob, OutboxStatus
from core.rails import service as rails
from core.runtime import Runtime
from tests.integration.outbox import targets
from webapp import bootstrap
from webapp.api import payout_alerts, pesapal
from webapp.queues import InProcessJobQueue

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
Factory = async_sessionmaker[AsyncSession]
OLD_NAME = "tests.integration.outbox.targets.plain"  # stands for a dotted path core staged before


@pytest.fixture
def installed(session_factory: Factory) -> Iterator[None]:
    runtime_module.install(
        Runtime(
            settings=Settings(kibeti_env="test"),
            session_factory=session_factory,
            clock=FixedClock(),
            queue=InProcessJobQueue(),
        )
    )
    saved = handlers.registered()
    handlers._handlers.clear()
    targets.calls.clear()
    yield
    handlers._handlers.clear()
    handlers._handlers.update(saved)
    targets.calls.clear()


async def _stage(factory: Factory, job: str, note: str) -> int:
    async with factory() as session:
        row_id = await service.enqueue(session=session, job=job, kwargs={"note": note}, dedupe_key=note)
        await session.commit()
    return row_id


async def _status(factory: Factory, row_id: int) -> str:
    async with factory() as session:
        found = await session.execute(select(OutboxJob.status).where(OutboxJob.id == row_id))
        return str(found.scalar_one())


@pytest.mark.usefixtures("installed")
async def test_a_named_job_and_one_staged_under_its_old_name_both_run_the_registered_handler(
    session_factory: Factory,
) -> None:
    named = await _stage(session_factory, handlers.OPEN_REVERSAL_CASE, "named")
    old = await _stage(session_factory, OLD_NAME, "old")
    with pytest.raises(handlers.UnknownHandler):  # not started through the composition root
        await jobs.run(named)
    assert await _status(session_factory, named) == OutboxStatus.PENDING.value  # left for the relay
    handlers.register(handlers.OPEN_REVERSAL_CASE, targets.plain, aliases=(OLD_NAME,))
    await jobs.run(named)
    await jobs.run(old)
    assert targets.calls == [("plain", {"note": "named"}), ("plain", {"note": "old"})]
    assert await _status(session_factory, named) == await _status(session_factory, old) == "done"


def test_core_stages_its_own_names_and_bootstrap_wires_the_web_apps_jobs_under_them_and_the_old_paths() -> (
    None
):
    assert rails.REVERSAL_CASE_JOB == handlers.OPEN_REVERSAL_CASE
    saved = handlers.registered()
    handlers._handlers.clear()
    try:
        bootstrap.wire_job_handlers()
        for name, old_path, target in (
            (
                handlers.OPEN_REVERSAL_CASE,
                "webapp.api.pesapal.open_reversal_case",
                pesapal.open_reversal_case,
            ),
            (handlers.OPEN_REFUND_CASE, "webapp.api.pesapal.open_refund_case", pesapal.open_refund_case),
        ):
            assert service.resolve_job(name) is target
            assert service.resolve_job(old_path) is target  # rows queued before the names run too
        assert service.resolve_job(handlers.PAYOUT_LONG_UNKNOWN) is payout_alerts.payout_long_unknown
        assert set(bootstrap.JOB_HANDLERS) == handlers.NAMES  # every name core stages is wired
    finally:
        handlers._handlers.clear()
        handlers._handlers.update(saved)


def test_only_names_core_declares_can_be_registered() -> None:
    with pytest.raises(ValueError, match="not a job name"):
        handlers.register("hook:made.up", targets.plain)
