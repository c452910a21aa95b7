"""A refund PesaPal makes after two staff released its hold as not made (its acceptance slower than
the release; or a later status Reversed for a refund released as not_refunded) is booked once: the wallet as far as its available balance goes, the rest owed (suspense) with a staff
case, the refund row saying so (refunded_late / refunded_short), audited. And a Reversed status for a
payment refunded only in part is flagged for staff (the rest may be a chargeback). SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.ports import CollectionResult, CollectionState
from core.rails import refund_requests, refunds, service
from core.rails.refunds import RefundStatus
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


@dataclass
class SlowRail(Rail):
    """Accepts the refund only after the scheduled status check (which saw none yet: still unknown,
    still held) and a staff release of it; `spend`: what the customer spends from the released money
    meanwhile."""

    factory: Factory | None = None
    clock_: FixedClock | None = None
    spend: str = "0"
    wallet_id: int = 0

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        self.sent += 1
        assert self.factory is not None
        assert self.clock_ is not None
        self.clock_.advance(seconds=refunds.IN_FLIGHT.total_seconds() + 1)
        async with self.factory() as session:
            (row,) = await refunds.open_refunds(session=session)
        checked = await refund_requests.check_status(factory=self.factory, rail=self, refund_id=row.id)
        assert checked.status == "unknown"  # COMPLETED is not "not made"
        await _staff_release(self.factory, row.id)
        if Decimal(self.spend):
            await _spend(self.factory, self.wallet_id, self.spend)
        self.made.append(amount)
        return True


async def _staff_release(factory: Factory, refund_id: int) -> None:
    """Two staff found no such refund on PesaPal's dashboard and released the hold."""
    async with factory() as session:
        assert await refunds.release(
            session=session, refund_id=refund_id, status=RefundStatus.NOT_REFUNDED,
            outcome="released by two staff: no such refund on PesaPal's dashboard", actor="staff:2",
        )  # fmt: skip
        await session.commit()


async def _spend(factory: Factory, wallet_id: int, amount: str) -> None:
    async with factory() as session:
        clearing = await ledger.system_account(
            session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES
        )
        spent = Money.of(amount, Asset.KES)
        await ledger.post_entry(
            session=session, idempotency_key=f"spend-{wallet_id}-{amount}", kind="test_spend",
            postings=[PostingRequest(wallet_id, -spent), PostingRequest(clearing.id, spent)],
        )  # fmt: skip
        await session.commit()


async def _cases(factory: Factory) -> list[dict[str, object]]:
    async with factory() as session:
        rows = await session.scalars(select(OutboxJob).where(OutboxJob.job == refunds.CASE_JOB))
        return [dict(row.kwargs) for row in rows]


async def _suspense(factory: Factory) -> Decimal:
    async with factory() as session:
        account = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        return (await ledger.balance(session=session, account_id=account.id)).amount


async def test_accepted_after_release_is_booked_once(factory: Factory, clock: FixedClock) -> None:
    paid = await _paid(factory)
    rail = SlowRail(factory=factory, clock_=clock)
    done = await _refund(factory, rail, paid)
    assert done.status == "refunded_late" and "debited KES 100.00 once" in done.message, done.message
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert await _audited(factory, done.refund_id) == [
        "rail.refund_pending",
        "rail.refund_unknown",
        "rail.refund_not_refunded",
        "rail.refund_refunded_late",
    ]
    async with factory() as session:  # booked once: a second late booking changes nothing
        assert not await refunds.settle_made_late(
            session=session, refund_id=done.refund_id, outcome="again", actor="t"
        )
        await session.commit()
    async with factory() as session:  # PesaPal's Reversed afterwards: ours, no chargeback
        reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
        applied = await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
        assert applied.outcome == "refunded"
        await session.commit()
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert [c["kind"] for c in await _cases(factory)] == [refunds.CASE_REVERSED_AFTER_PARTIAL]
    assert rail.sent == 1
    await _verified(factory)


async def test_accepted_after_release_and_spent_debits_what_is_left_and_opens_a_case(
    factory: Factory, clock: FixedClock
) -> None:
    paid = await _paid(factory)
    rail = SlowRail(factory=factory, clock_=clock, spend="250", wallet_id=paid.wallet_id)
    before = await _suspense(factory)
    done = await _refund(factory, rail, paid, "300")
    assert done.status == "refunded_short" and "case was opened" in done.message, done.message
    assert await _money(factory, paid) == (Decimal("0.00"), Decimal("0.00"), PAID, 1)  # never below zero
    assert await _suspense(factory) - before == Decimal("-250.00")  # owed
    assert await _cases(factory) == [
        {"kind": refunds.CASE_SHORT, "order_id": paid.order_id, "refund_id": done.refund_id}
    ]
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=done.refund_id)
        assert row.open_order_id is None and row.entry_id is not None and "KES 250.00" in row.outcome
    assert (await _audited(factory, done.refund_id))[-1] == "rail.refund_refunded_short"
    await _verified(factory)


async def test_a_later_reversed_for_a_released_refund_books_it_not_a_chargeback(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail(answer="lost")
    unknown = await _refund(factory, rail, paid)
    still = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    assert still.status == "unknown"
    await _staff_release(factory, unknown.refund_id)
    reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
    for _ in range(2):  # the daily watch asks again: booked once
        async with factory() as session:
            applied = await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
            assert applied.outcome == "refunded" and applied.order.status == "completed"
            await session.commit()
    async with factory() as session:
        assert (await refunds.get_refund(session=session, refund_id=unknown.refund_id)).status == (
            RefundStatus.REFUNDED_LATE.value
        )
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert [c["kind"] for c in await _cases(factory)] == [refunds.CASE_REVERSED_AFTER_PARTIAL]
    await _verified(factory)


async def test_reversed_after_a_full_refund_is_not_flagged(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail()
    assert (await _refund(factory, rail, paid, "300")).status == "refunded"
    async with factory() as session:
        reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
        assert (
            await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
        ).outcome == ("refunded")
        await session.commit()
    assert await _cases(factory) == []
