"""A PesaPal refund whose outcome stays unknown is still asked about every RECHECK_AFTER, and once it
is older than LONG_UNKNOWN_AGE (or asked LONG_UNKNOWN_CHECKS times) staff get one alert, not one per
check; /metrics shows the open refunds and the oldest one's age. The staff alert / case job itself
(webapp.api.pesapal.open_refund_case) is idempotent, for a refund made after release with the
wallet short and for a Reversed status after a partial refund too. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from compliance.models import Alert, Case
from core import runtime
from core.clock import FixedClock
from core.outbox.models import OutboxJob
from core.ports import CollectionResult, CollectionState
from core.rails import jobs, refunds, service
from tests.integration.pesapal.test_refund_late import SlowRail
from tests.integration.pesapal.test_refund_outcomes import Factory, Rail, _paid, _refund
from webapp.api import pesapal as pesapal_api
from webapp.observability.metrics import render
from webapp.observability.snapshot import take_snapshot


@pytest.fixture
def rail() -> Rail:
    return Rail(answer="lost_made", status_fails=True)


@pytest.fixture
def rt(factory: Factory, clock: FixedClock, rail: Rail) -> Iterator[SimpleNamespace]:
    """What the jobs read from the installed Runtime: its sessions, clock, rails (no Redis)."""
    previous = runtime._current
    fake = SimpleNamespace(
        session_factory=factory, clock=clock, collection_rails={"pesapal": rail}, redis=None
    )
    runtime._current = fake  # type: ignore[assignment]
    yield fake
    runtime._current = previous


async def _staged(factory: Factory, job: str) -> list[dict[str, object]]:
    async with factory() as session:
        rows = await session.scalars(select(OutboxJob).where(OutboxJob.job == job).order_by(OutboxJob.id))
        return [dict(row.kwargs) for row in rows]


async def test_a_long_unknown_refund_raises_one_alert_and_is_still_checked(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    unknown = await _refund(factory, rail, paid)
    assert unknown.status == "unknown"
    rounds = int(jobs.LONG_UNKNOWN_AGE / jobs.RECHECK_AFTER) + 3
    for _ in range(rounds):  # the scheduler, every slot; PesaPal's status keeps failing
        clock.advance(seconds=jobs.RECHECK_AFTER.total_seconds())
        assert await jobs.reconcile_refunds() == 1
        assert await jobs.check_refund(unknown.refund_id) == "unknown"
    assert len(await _staged(factory, jobs.CHECK_REFUND_JOB)) == rounds  # still checked every slot
    cases = await _staged(factory, refunds.CASE_JOB)
    assert cases == [
        {"kind": refunds.CASE_LONG_UNKNOWN, "order_id": paid.order_id, "refund_id": unknown.refund_id}
    ]  # once
    first = await pesapal_api.open_refund_case(**cases[0])  # type: ignore[arg-type]
    assert await pesapal_api.open_refund_case(**cases[0]) == first  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, first)
        assert alert is not None and alert.rule_code == "refund_long_unknown" and alert.case_id is None
        assert "KES 100.00" in alert.summary and "still held" in alert.summary
    rail.status_fails = False  # PesaPal answers at last: Reversed, booked once
    assert await jobs.check_refund(unknown.refund_id) == "refunded"
    assert await jobs.reconcile_refunds() == 0


async def test_a_refund_pesapal_shows_completed_escalates_held_and_is_booked_when_approved(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    """PesaPal answers every check with Completed (the refund awaits the merchant's approval): never
    released, one long-unknown alert saying what next, booked once when approved."""
    rail.status_fails, rail.approved = False, False
    paid = await _paid(factory)
    unknown = await _refund(factory, rail, paid)
    for _ in range(jobs.LONG_UNKNOWN_CHECKS + 1):
        clock.advance(seconds=jobs.RECHECK_AFTER.total_seconds())
        assert await jobs.reconcile_refunds() == 1
        assert await jobs.check_refund(unknown.refund_id) == "unknown"
    (staged,) = await _staged(factory, refunds.CASE_JOB)
    alert_id = await pesapal_api.open_refund_case(**staged)  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None and alert.rule_code == "refund_long_unknown"
        assert "Completed" in alert.summary and "dashboard" in alert.summary, alert.summary
    rail.approved = True
    assert await jobs.check_refund(unknown.refund_id) == "refunded"
    assert await jobs.reconcile_refunds() == 0


async def test_a_young_unknown_refund_raises_none(factory: Factory, rail: Rail, rt: SimpleNamespace) -> None:
    paid = await _paid(factory)
    assert (await _refund(factory, rail, paid)).status == "unknown"
    assert await jobs.reconcile_refunds() == 1
    assert await _staged(factory, refunds.CASE_JOB) == []


async def test_the_short_refund_case_job_opens_one_case(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    slow = SlowRail(factory=factory, clock_=clock, spend="250", wallet_id=paid.wallet_id)
    assert (await _refund(factory, slow, paid, "300")).status == "refunded_short"
    (staged,) = await _staged(factory, refunds.CASE_JOB)
    first = await pesapal_api.open_refund_case(**staged)  # type: ignore[arg-type]
    assert await pesapal_api.open_refund_case(**staged) == first  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, first)
        assert alert is not None and alert.rule_code == "refund_short" and alert.case_id is not None
        assert await session.scalar(select(func.count()).select_from(Case)) == 1


async def test_metrics_show_open_refunds(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    empty, _ = render(await take_snapshot(rt))  # type: ignore[arg-type]
    assert b'kibeti_rail_refunds_open{state="unknown"} 0.0' in empty
    paid = await _paid(factory)
    assert (await _refund(factory, rail, paid)).status == "unknown"
    clock.advance(seconds=600)
    text, _ = render(await take_snapshot(rt))  # type: ignore[arg-type]
    assert b'kibeti_rail_refunds_open{state="unknown"} 1.0' in text
    assert b'kibeti_rail_refunds_open{state="pending"} 0.0' in text
    line = next(
        x for x in text.decode().splitlines() if x.startswith("kibeti_rail_refund_oldest_open_age_seconds ")
    )
    assert Decimal(line.split()[1]) == Decimal(600)


async def test_reversed_after_a_partial_refund_is_flagged_once_with_a_case(
    factory: Factory, rt: SimpleNamespace
) -> None:
    """A partial refund booked, then PesaPal's status says Reversed: taken as our refund (no second
    debit), but the rest may have been charged back, so staff get one alert and a case."""
    paid, accepting = await _paid(factory), Rail()
    assert (await _refund(factory, accepting, paid, "120")).status == "refunded"
    reversed_ = CollectionResult(CollectionState.REVERSED, "", Decimal("300.00"), "KES", "CONF1", "Visa")
    for _ in range(3):  # the daily watch, again and again
        async with factory() as session:
            applied = await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
            assert applied.outcome == "refunded"
            await session.commit()
    (staged,) = await _staged(factory, refunds.CASE_JOB)
    assert staged == {"kind": refunds.CASE_REVERSED_AFTER_PARTIAL, "order_id": paid.order_id, "refund_id": 0}
    first = await pesapal_api.open_refund_case(**staged)  # type: ignore[arg-type]
    assert await pesapal_api.open_refund_case(**staged) == first  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, first)
        assert alert is not None and alert.case_id is not None
        assert "refunded KES 120.00 of the KES 300.00 paid" in alert.summary, alert.summary
        case = await session.get(Case, alert.case_id)
        assert case is not None and case.title.startswith("Reversed after a partial refund")
