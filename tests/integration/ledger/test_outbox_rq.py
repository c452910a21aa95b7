"""The outbox survives a flushed Redis: rows are re-dispatched and real RQ workers apply each once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import select

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.ledger.verify import verify
from core.money import Asset, Money
from core.outbox import service as outbox
from core.outbox.models import OutboxJob, OutboxStatus
from webapp.queues import RQJobQueue

JOB = "tests.integration.ledger.outbox_jobs.credit_customer"


def _run_worker(db_url: str, redis_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url}
    result = subprocess.run(
        [sys.executable, "-c", "from webapp.cli import main; main()", "worker", "rq", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


async def test_flushed_redis_loses_no_job_and_nothing_runs_twice(pg_session_factory, clean_pg_url, redis_url):
    async with pg_session_factory() as session:
        for number in range(5):
            await outbox.enqueue(
                session=session,
                job=JOB,
                dedupe_key=f"credit-{number}",
                kwargs={"customer_id": number, "amount": "100.00", "reference": f"r{number}"},
            )
        # the same dedupe key stages a job once
        await outbox.enqueue(
            session=session,
            job=JOB,
            dedupe_key="credit-0",
            kwargs={"customer_id": 0, "amount": "100.00", "reference": "r0"},
        )
        await session.commit()

    connection = redis.Redis.from_url(redis_url)
    queue = RQJobQueue(connection)
    assert await outbox.relay(session_factory=pg_session_factory, queue=queue) == 5
    connection.flushdb()  # Redis loses every queued job

    # not yet stale: nothing is dispatched twice while a job may still be running somewhere
    assert await outbox.relay(session_factory=pg_session_factory, queue=queue) == 0
    later = datetime.now(UTC) + outbox.REDISPATCH_AFTER + timedelta(seconds=1)
    assert await outbox.relay(session_factory=pg_session_factory, queue=queue, now=lambda: later) == 5

    # a duplicate delivery on top: the relay dispatches row 1 again as if its job had vanished
    async with pg_session_factory() as session:
        row = (await session.execute(select(OutboxJob).order_by(OutboxJob.id).limit(1))).scalar_one()
        queue.enqueue("core.outbox.jobs.run", job_id=f"dup-{row.id}", kwargs={"outbox_id": row.id})
        queue.enqueue(JOB, job_id="dup-direct", kwargs=dict(row.kwargs))

    _run_worker(clean_pg_url, redis_url)

    async with pg_session_factory() as session:
        statuses = (await session.execute(select(OutboxJob.status))).scalars().all()
        assert statuses == [OutboxStatus.DONE.value] * 5
        for number in range(5):
            wallet = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=number, asset=Asset.KES
            )
            assert await ledger.balance(session=session, account_id=wallet.id) == Money.of(
                "100.00", Asset.KES
            )
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        assert await ledger.balance(session=session, account_id=float_account.id) == Money.of(
            "-500.00", Asset.KES
        )
        assert (await verify(session=session)).ok
    assert await outbox.relay(session_factory=pg_session_factory, queue=queue, now=lambda: later) == 0
    connection.close()
