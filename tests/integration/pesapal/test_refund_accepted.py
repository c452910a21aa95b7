"""A refund PesaPal accepts is not a refund made: PesaPal makes it only once the merchant approves it on
PesaPal's dashboard (its Refund Request: "A refund has to be approved by the merchant"), and until then
GetTransactionStatus says Completed. So an accepted refund stays `accepted` with its amount held and
nothing booked; it is booked once, from the status, when that shows Reversed; if never approved,
staff are told once (refund_awaiting_approval) and only two of them release the hold; an acceptance
arriving after two staff released the hold books nothing until the status shows it made, and staff
are told at once. PostgreSQL (and SQLite), with a rail that answers as told (the simulator: e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from compliance.models import Alert
from core import runtime
from core.clock import FixedClock
from core.outbox.models import OutboxJob
from core.ports import CollectionResult, CollectionState
from core.rails import jobs, refund_release, refund_requests, refunds, service
from core.rails.errors import RefundAwaitingOutcome, RefundReleaseSamePerson
from core.rails.models import RailRefund
from core.rails.refunds import RefundStatus
from tests.integration.pesapal.test_refund_late import SlowRail
from tests.integration.pesapal.test_refund_outcomes import (
    PAID,
    Factory,
    Rail,
    _audited,
    _money,
    _paid,
    _refund,
    _verified,
)
from webapp.api import pesapal as pesapal_api
from webapp.observability.metrics import render
from webapp.observability.snapshot import take_snapshot

HELD = (PAID, Decimal("200.00"), Decimal("0.00"), 0)  # balance, available, refunded, entries: 100 held
BOOKED = (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)


@pytest.fixture
def rail() -> Rail:
    return Rail(answer="accept", approved=False)  # PesaPal takes it; the merchant has not approved it


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


async def _row(factory: Factory, refund_id: int) -> RailRefund:
    async with factory() as session:
        return await refunds.get_refund(session=session, refund_id=refund_id)


async def test_accepted_is_held_not_booked_until_the_status_shows_it_made(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    accepted = await _refund(factory, rail, paid)
    assert accepted.status == "accepted", accepted
    assert "waiting for approval on PesaPal's dashboard" in accepted.message
    assert (
        "nothing is debited" in accepted.message and "approve it on PesaPal's dashboard" in accepted.message
    )
    assert await _money(factory, paid) == HELD  # held, nothing booked, the order not refunded
    row = await _row(factory, accepted.refund_id)
    assert row.open_order_id == paid.order_id and row.outcome.startswith(refund_requests.ACCEPTED_SAID)
    for _ in range(3):  # the scheduled checks: Completed, still accepted, still held
        clock.advance(seconds=jobs.RECHECK_AFTER.total_seconds())
        assert await jobs.reconcile_refunds() == 1
        assert await jobs.check_refund(accepted.refund_id) == "accepted"
    rail.status_fails = True  # no status answer: still accepted (never downgraded to unknown)
    assert await jobs.check_refund(accepted.refund_id) == "accepted"
    row = await _row(factory, accepted.refund_id)
    assert row.outcome.startswith(refund_requests.ACCEPTED_SAID) and "status query" in row.outcome
    assert await _money(factory, paid) == HELD
    rail.status_fails, rail.approved = False, True  # approved on PesaPal's dashboard: Reversed
    assert await jobs.check_refund(accepted.refund_id) == "refunded"
    assert await jobs.check_refund(accepted.refund_id) == "refunded"  # booked once
    assert await _money(factory, paid) == BOOKED
    assert await _audited(factory, accepted.refund_id) == [
        "rail.refund_pending",
        "rail.refund_accepted",
        "rail.refund_refunded",
    ]
    assert rail.sent == 1 and await jobs.reconcile_refunds() == 0
    await _verified(factory)


async def test_a_staff_retry_while_accepted_sends_nothing_and_says_so(
    factory: Factory, rail: Rail, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    first = await _refund(factory, rail, paid)
    with pytest.raises(RefundAwaitingOutcome) as again:
        await _refund(factory, rail, paid)
    assert again.value.refund_id == first.refund_id and rail.sent == 1
    assert refund_requests.ACCEPTED_SAID in str(again.value), str(again.value)
    assert await _money(factory, paid) == HELD


async def test_accepted_never_approved_alerts_once_then_two_staff_release_it(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    accepted = await _refund(factory, rail, paid)
    rounds = int(jobs.AWAITING_APPROVAL_AGE / jobs.RECHECK_AFTER) + 3
    for _ in range(rounds):
        clock.advance(seconds=jobs.RECHECK_AFTER.total_seconds())
        assert await jobs.reconcile_refunds() == 1
        assert await jobs.check_refund(accepted.refund_id) == "accepted"
    cases = await _staged(factory, refunds.CASE_JOB)
    assert cases == [  # once, and not as "unknown"
        {"kind": refunds.CASE_AWAITING_APPROVAL, "order_id": paid.order_id, "refund_id": accepted.refund_id}
    ]
    alert_id = await pesapal_api.open_refund_case(**cases[0])  # type: ignore[arg-type]
    assert await pesapal_api.open_refund_case(**cases[0]) == alert_id  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None and alert.rule_code == "refund_awaiting_approval" and alert.case_id is None
        assert "waiting for approval on PesaPal's dashboard" in alert.summary, alert.summary
        assert "two staff release the hold" in alert.summary
    assert await _money(factory, paid) == HELD
    async with factory() as session:  # declined on PesaPal's dashboard: two staff release the hold
        await refund_release.propose_release(
            session=session, refund_id=accepted.refund_id, maker="staff:1",
            reason="PesaPal's dashboard shows the refund request declined",
        )  # fmt: skip
        await session.commit()
    with pytest.raises(RefundReleaseSamePerson):
        await refund_release.confirm_release(
            factory=factory, rail=rail, refund_id=accepted.refund_id, checker="staff:1"
        )
    released = await refund_release.confirm_release(
        factory=factory, rail=rail, refund_id=accepted.refund_id, checker="staff:2"
    )
    assert released.status == RefundStatus.NOT_REFUNDED.value
    assert "declined or never approved" in (await _row(factory, accepted.refund_id)).outcome
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)  # released, never booked
    assert (await _audited(factory, accepted.refund_id))[-1] == "rail.refund_not_refunded"
    await _verified(factory)


async def test_metrics_tell_an_accepted_refund_from_an_unknown_one(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    assert (await _refund(factory, rail, await _paid(factory))).status == "accepted"
    clock.advance(seconds=600)
    text, _ = render(await take_snapshot(rt))  # type: ignore[arg-type]
    lines = text.decode().splitlines()
    assert 'kibeti_rail_refunds_open{state="accepted"} 1.0' in lines
    assert 'kibeti_rail_refunds_open{state="unknown"} 0.0' in lines
    assert 'kibeti_rail_refund_oldest_age_seconds{state="accepted"} 600.0' in lines
    assert 'kibeti_rail_refund_oldest_age_seconds{state="unknown"} 0.0' in lines


async def test_accepted_after_release_books_nothing_until_made_and_tells_staff(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    """The acceptance comes after the status check saw no refund and two staff released the hold: it
    is not booked (PesaPal has not made it: the merchant may decline it); staff are told at once, and
    if PesaPal's status later shows it made it is booked once (the wallet as far as it goes)."""
    paid = await _paid(factory)
    slow = SlowRail(factory=factory, clock_=clock, approved=False)
    late = await _refund(factory, slow, paid)
    assert late.status == RefundStatus.NOT_REFUNDED.value
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)  # nothing booked
    cases = await _staged(factory, refunds.CASE_JOB)
    assert cases == [
        {"kind": refunds.CASE_ACCEPTED_AFTER_RELEASE, "order_id": paid.order_id, "refund_id": late.refund_id}
    ]
    alert_id = await pesapal_api.open_refund_case(**cases[0])  # type: ignore[arg-type]
    async with factory() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None and alert.case_id is not None and "decline it there" in alert.summary
    reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
    for _ in range(2):  # approved after all: the daily watch sees Reversed, booked once
        async with factory() as session:
            applied = await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
            assert applied.outcome == "refunded"
            await session.commit()
    assert (await _row(factory, late.refund_id)).status == RefundStatus.REFUNDED_LATE.value
    assert await _money(factory, paid) == BOOKED
    await _verified(factory)


class BrokenStatusRail(Rail):
    """Accepts the refund; its status query then fails in a way no adapter foresaw."""

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        self.asked += 1
        raise RuntimeError("status parser bug")


async def test_a_failing_first_status_check_leaves_the_acceptance_held(factory: Factory) -> None:
    paid, rail = await _paid(factory), BrokenStatusRail(answer="accept")
    accepted = await _refund(factory, rail, paid)
    assert accepted.status == "accepted" and rail.asked == 1, accepted
    assert await _money(factory, paid) == HELD
