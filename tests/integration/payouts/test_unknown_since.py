"""A payout stays unknown while Daraja's Transaction Status keeps answering "Pending" (asked every
few minutes): its age for the PayoutStuckUnknown metric runs from when it became unknown (status
queries and repeated unknown answers do not reset it), one staff alert is raised once it has been
unknown for 30 minutes (however many scheduler runs stage it), and leaving unknown clears
unknown_since. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from compliance.models import Alert
from core import runtime
from core.clock import FixedClock
from core.db.session import make_session_factory
from core.outbox.models import OutboxJob
from core.payments import service
from payouts import callbacks, jobs
from tests.integration.payouts.test_payments_service import _create, _wallet
from webapp.api import payout_alerts
from webapp.observability.snapshot import take_snapshot

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def factory(session_factory: Factory, clock: FixedClock) -> Factory:
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return make_session_factory(engine, clock=clock)


@pytest.fixture
def rt(factory: Factory, clock: FixedClock) -> Iterator[SimpleNamespace]:
    """What the alert job and the metrics snapshot read from the installed Runtime (no Redis)."""
    previous = runtime._current
    fake = SimpleNamespace(session_factory=factory, clock=clock, redis=None)
    runtime._current = fake  # type: ignore[assignment]
    yield fake
    runtime._current = previous


def _status_body(query_id: str, ocid: str, status: str, receipt: str = "") -> dict[str, Any]:
    parameters = {"OriginatorConversationID": ocid, "ReasonType": "Salary Payment", "Amount": 100,
                  "TransactionResultCode": "", "ReceiptNo": receipt, "ConversationID": "",
                  "TransactionStatus": status}  # fmt: skip
    return {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": query_id, "ConversationID": "AG_q", "TransactionID": receipt,
            "ResultParameters": {"ResultParameter": [{"Key": k, "Value": v} for k, v in parameters.items()]},
        }
    }  # fmt: skip


async def _unknown_payout(factory: Factory) -> str:
    """A payout whose worker died during the Daraja call (claimed twice: the second run says unknown)."""
    wallet = await _wallet(factory, 1)
    payout = await _create(factory, wallet, amount="100")
    async with factory() as session:
        await service.claim_for_send(session=session, payout_id=payout.id)
        claim = await service.claim_for_send(session=session, payout_id=payout.id)
        await session.commit()
    assert claim.payout.status == "unknown"
    return str(payout.id)


async def _ask(factory: Factory, payout_id: str, query_id: str, status: str, receipt: str = "") -> str:
    """What the reconciler does: record the status query, then Daraja's answer arrives."""
    async with factory() as session:
        await service.record_status_query(session=session, payout_id=payout_id, query_id=query_id)
        await session.commit()
    body = _status_body(query_id, payout_id, status, receipt)
    return await callbacks.receive(factory, kind="status_result", body=body, raw="{}")


async def _alert_jobs(factory: Factory) -> list[dict[str, Any]]:
    async with factory() as session:
        rows = await session.scalars(
            select(OutboxJob).where(OutboxJob.job == service.LONG_UNKNOWN_JOB).order_by(OutboxJob.id)
        )
        return [dict(row.kwargs) for row in rows]


async def _stage(factory: Factory, clock: FixedClock) -> int:
    """The scheduler's step (payouts.jobs' reconciler runs it on every pass)."""
    async with factory() as session:
        due = await service.stage_long_unknown_alerts(session=session, now=clock.now())
        await session.commit()
    return due


async def test_pending_every_3_minutes_for_an_hour_ages_the_metric_and_raises_one_alert(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    payout_id = await _unknown_payout(factory)
    became_unknown = clock.now()
    for minute in range(3, 61, 3):
        clock.advance(minutes=3)
        assert await _ask(factory, payout_id, f"q-{minute}", "Pending") == "unknown"
        assert await _stage(factory, clock) == (1 if minute == 30 else 0), minute
        staged = await _alert_jobs(factory)
        assert staged == ([] if minute < 30 else [{"payout_id": payout_id}]), minute
        # the scheduler also runs between answers (and after a restart): nothing staged again
        assert await _stage(factory, clock) == 0
    async with factory() as session:
        row = await service.get_payout(session=session, payout_id=payout_id)
    assert (row.status, row.unknown_since) == ("unknown", became_unknown)
    assert row.updated_at == clock.now()  # the last answer moved updated_at (stuck_payouts' cadence)
    snapshot = await take_snapshot(rt)  # type: ignore[arg-type]
    assert snapshot.oldest_unknown_payout_age == 3600 > 600  # PayoutStuckUnknown's threshold
    (kwargs,) = await _alert_jobs(factory)
    first = await payout_alerts.payout_long_unknown(**kwargs)
    assert await payout_alerts.payout_long_unknown(**kwargs) == first  # run twice (a retry): one alert
    async with factory() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.rule_code == payout_alerts.RULE))).all()
    assert [a.id for a in alerts] == [first]
    assert payout_id in alerts[0].summary and "KES 100.00" in alerts[0].summary


async def test_leaving_unknown_clears_unknown_since_and_the_metric(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    payout_id = await _unknown_payout(factory)
    clock.advance(minutes=40)
    assert await _ask(factory, payout_id, "q-1", "Pending") == "unknown"
    assert (await take_snapshot(rt)).oldest_unknown_payout_age == 2400  # type: ignore[arg-type]
    assert await _ask(factory, payout_id, "q-2", "Completed", receipt="RKT1234567") == "succeeded"
    async with factory() as session:
        row = await service.get_payout(session=session, payout_id=payout_id)
    assert (row.status, row.unknown_since) == ("succeeded", None)
    assert (await take_snapshot(rt)).oldest_unknown_payout_age == 0  # type: ignore[arg-type]
    assert await _stage(factory, clock) == 0


async def test_a_timeout_notice_keeps_unknown_since_and_an_acceptance_clears_it(
    factory: Factory, clock: FixedClock
) -> None:
    payout_id = await _unknown_payout(factory)
    became_unknown = clock.now()
    clock.advance(minutes=5)
    async with factory() as session:  # Daraja's queue timeout about a payout already unknown
        assert await service.apply_timeout(session=session, originator_conversation_id=payout_id) == "unknown"
        await session.commit()
        row = await service.get_payout(session=session, payout_id=payout_id)
        assert row.unknown_since == became_unknown
        await service.mark_accepted(session=session, payout_id=payout_id, conversation_id="AG_1")
        await session.commit()
        row = await service.get_payout(session=session, payout_id=payout_id)
        assert (row.status, row.unknown_since) == ("accepted", None)
        clock.advance(minutes=5)
        await service.mark_unknown(session=session, payout_id=payout_id, reason="worker stopped")
        await session.commit()
        row = await service.get_payout(session=session, payout_id=payout_id)
        assert (row.status, row.unknown_since) == ("unknown", clock.now())


async def test_every_long_unknown_payout_is_alerted_even_past_one_runs_limit(
    factory: Factory, clock: FixedClock
) -> None:
    wallet = await _wallet(factory, 1)
    for n in range(3):
        payout = await _create(factory, wallet, amount="100", key=f"k-{n}")
        async with factory() as session:
            await service.claim_for_send(session=session, payout_id=payout.id)
            await service.claim_for_send(session=session, payout_id=payout.id)
            await session.commit()
    clock.advance(minutes=31)
    staged = []
    for _ in range(3):
        async with factory() as session:
            staged.append(await service.stage_long_unknown_alerts(session=session, now=clock.now(), limit=2))
            await session.commit()
    assert staged == [2, 1, 0]
    assert len({str(job["payout_id"]) for job in await _alert_jobs(factory)}) == 3


async def test_the_reconcilers_pass_stages_the_alert(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    """payouts.jobs' reconciler (the scheduler's 60 s job) stages it; nothing else is due here (a
    cutoff far in the past: no status query, no Daraja)."""
    payout_id = await _unknown_payout(factory)
    clock.advance(minutes=29)
    assert (await jobs._reconcile_stuck_payouts(older_than_s=10**7))["long_unknown"] == 0
    clock.advance(minutes=1)
    assert (await jobs._reconcile_stuck_payouts(older_than_s=10**7))["long_unknown"] == 1
    assert (await jobs._reconcile_stuck_payouts(older_than_s=10**7))["long_unknown"] == 0
    assert await _alert_jobs(factory) == [{"payout_id": payout_id}]


async def test_no_alert_for_a_payout_that_left_unknown_before_the_alert_job_ran(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    """Staged at 31 minutes, paid before the relay ran the job: nothing is held, so no 'still held'."""
    payout_id = await _unknown_payout(factory)
    clock.advance(minutes=31)
    assert await _stage(factory, clock) == 1
    assert await _ask(factory, payout_id, "q-paid", "Completed", receipt="RCP123") == "succeeded"
    assert await payout_alerts.payout_long_unknown(payout_id) == 0
    async with factory() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.rule_code == "payout_long_unknown"))).all()
    assert alerts == []
