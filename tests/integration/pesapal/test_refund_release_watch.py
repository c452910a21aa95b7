"""A refund two staff released (an accepted one declined or never approved on PesaPal's dashboard, or
an unknown one) that PesaPal makes later (its status: Reversed) is booked once, whether or not its
IPN comes: the scheduled watch (core.rails.jobs.watch_reversals) asks PesaPal's status daily about
every order with a refund released within jobs.RELEASED_WATCH, however long ago the order itself
last changed; and it asks about every completed order of the last REVERSAL_WATCH, however many (paged
by id, not a capped list oldest first). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core import runtime
from core.clock import FixedClock
from core.outbox.models import OutboxJob
from core.rails import jobs, refunds, service
from core.rails.models import OrderStatus, RailOrder
from core.rails.refunds import RefundStatus
from tests.integration.pesapal.test_refund_late import _staff_release
from tests.integration.pesapal.test_refund_outcomes import PAID, Factory, Paid, Rail, _money, _paid, _refund


@pytest.fixture
def rail() -> Rail:
    return Rail(answer="accept", approved=False)  # accepted, waiting for the merchant's approval


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


async def _submitted(factory: Factory, paid: Paid) -> None:
    """The order has PesaPal's tracking id (what confirm_order asks about)."""
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        order.tracking_id = f"TRK-{paid.order_id}"
        await session.commit()


async def _confirms(factory: Factory) -> list[int]:
    """Order ids of the status queries staged and not yet run, each once; marks them run."""
    async with factory() as session:
        rows = list(
            await session.scalars(
                select(OutboxJob).where(OutboxJob.job == service.CONFIRM_JOB, OutboxJob.status == "pending")
            )
        )
        for row in rows:
            row.status = "done"
        await session.commit()
    return sorted({int(row.kwargs["order_id"]) for row in rows})


async def _watched(factory: Factory) -> list[int]:
    """The scheduled watch once, its status queries run: the orders it asked about."""
    await jobs.watch_reversals()
    asked = await _confirms(factory)
    for order_id in asked:
        await jobs.confirm_order(order_id)
    return asked


@pytest.mark.parametrize("released_after_days", [13, 20, 59])
async def test_a_released_refund_made_later_is_booked_by_the_watch(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace, released_after_days: int
) -> None:
    """The order last changed on day 0; the accepted refund is released by two staff on day N and
    PesaPal makes it (the merchant approves it after all) two days later, its IPN lost: the watch
    books it once, though the order's updated_at is older than REVERSAL_WATCH."""
    paid = await _paid(factory)
    await _submitted(factory, paid)
    accepted = await _refund(factory, rail, paid)
    assert accepted.status == RefundStatus.ACCEPTED.value
    clock.advance(seconds=timedelta(days=released_after_days).total_seconds())
    await _staff_release(factory, accepted.refund_id)
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0"), 0)  # released: spendable again
    clock.advance(seconds=timedelta(days=2).total_seconds())
    rail.approved = True  # PesaPal made it now (status Reversed); its IPN never came
    assert await _watched(factory) == [paid.order_id]
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=accepted.refund_id)
        assert row.status == RefundStatus.REFUNDED_LATE.value, row.outcome
        order = await service.get_order(session=session, order_id=paid.order_id)
        assert order.status == OrderStatus.COMPLETED.value  # our refund, not a chargeback
    booked = (PAID - Decimal("100"), PAID - Decimal("100"), Decimal("100.00"), 1)  # one entry
    assert await _money(factory, paid) == booked
    clock.advance(seconds=timedelta(days=1).total_seconds())
    await _watched(factory)  # asked again the next day: booked once
    assert await _money(factory, paid) == booked


async def test_a_released_refund_is_watched_for_released_watch_only(
    factory: Factory, clock: FixedClock, rail: Rail, rt: SimpleNamespace
) -> None:
    paid = await _paid(factory)
    await _submitted(factory, paid)
    accepted = await _refund(factory, rail, paid)
    await _staff_release(factory, accepted.refund_id)
    clock.advance(seconds=(jobs.RELEASED_WATCH - timedelta(hours=1)).total_seconds())
    assert await _watched(factory) == [paid.order_id]  # still within the documented window
    clock.advance(seconds=timedelta(hours=2).total_seconds())
    assert await _watched(factory) == []


async def test_every_completed_order_of_the_watch_is_asked_about_however_many(
    factory: Factory, clock: FixedClock, rt: SimpleNamespace
) -> None:
    """More completed orders in REVERSAL_WATCH than one page (the old cap was 1000, oldest first):
    each is asked about once a day, the newest included."""
    count = 1003
    now = clock.now()
    async with factory() as session:
        session.add_all(
            RailOrder(
                rail="pesapal", merchant_reference=f"KBT-W{i}", idempotency_key=f"watch-{i}", purpose="topup",
                customer_id=1, account_id=1, phone="+254733000001", amount_minor=10_000, currency="KES",
                status=OrderStatus.COMPLETED.value, link_code=f"w{i}", redirect_url="", confirmation="",
                method="", provider_status="", flag_reason="", refunded_minor=0, hints=0,
                tracking_id=f"TRK-W{i}", created_at=now, updated_at=now + timedelta(seconds=i),
            )
            for i in range(count)
        )  # fmt: skip
        await session.commit()
        ids = sorted((await session.scalars(select(RailOrder.id))).all())
    clock.advance(seconds=count + 1)
    assert await jobs.watch_reversals() == count
    assert await _confirms(factory) == ids  # the newest too
    assert await jobs.watch_reversals() == count  # the same day: staged once
    assert await _confirms(factory) == []
