"""The send job marks its own outbox row done (core.outbox.jobs.marks_row_done): in the transaction that
records Daraja's answer, or at once when there is nothing to send; never when it must be retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.money import Asset, Money
from core.outbox import jobs as outbox_jobs
from core.outbox import service as outbox
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import service
from tests.integration.payouts.harness import funded_wallet, wait_final

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def _send_rows(factory) -> list[OutboxJob]:
    async with factory() as session:
        query = select(OutboxJob).where(OutboxJob.job == service.SEND_JOB).order_by(OutboxJob.id)
        return list((await session.execute(query)).scalars().all())


async def test_an_accepted_payout_has_its_send_row_done(stack, relay):
    stack.start_worker(simple=True)
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, 1, 1000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session,
            idempotency_key="rows-1",
            account_id=wallet,
            phone="0712345678",
            amount=Money.of(100, Asset.KES),
            customer_id=1,
        )
        await session.commit()
    (row,) = await wait_final(factory, [payout.id], timeout=30)
    assert row.status == "succeeded"
    [send] = await _send_rows(factory)
    assert send.status == OutboxStatus.DONE.value and send.done_at is not None


async def test_a_send_for_a_payout_this_database_does_not_know_is_dropped_and_done(stack, relay):
    """In-process, as the relay's payload would run it: no retry can ever find the payout."""
    factory = relay.runtime.session_factory
    async with factory() as session:
        row_id = await outbox.enqueue(
            session=session,
            job=service.SEND_JOB,
            kwargs={"payout_id": "no-such-payout"},
            dedupe_key="rows-unknown",
            queue=service.PAYOUT_QUEUE,
        )
        await session.commit()
    await outbox_jobs.run(row_id, job=service.SEND_JOB, kwargs={"payout_id": "no-such-payout"})
    [send] = await _send_rows(factory)
    assert send.status == OutboxStatus.DONE.value
    assert stack.sim("GET", "/simulator/payments")["payments"] == {}
