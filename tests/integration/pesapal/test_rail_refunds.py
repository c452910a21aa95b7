"""Refunds of a card / Airtel Money payment, booked after the rail accepted them: each refund of an
order is its own ledger entry (a second partial refund is neither refused nor skipped by the ledger),
the order's refunded total moves with the entry and only when it is new, and booking the same refund
again (a retry) changes nothing. SQLite and PostgreSQL; and a property over any refunds and retries:
the refunds booked sum to the order's refunded total, never above what was paid, and the wallet
holds the rest."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import JournalEntry, OwnerType, Posting
from core.ledger.verify import verify
from core.money import Asset, Money
from core.ports import CollectionResult, CollectionState
from core.rails import refunds, service
from core.rails.errors import RefundTooLarge

Factory = async_sessionmaker[AsyncSession]
PAID = Decimal("300.00")
_owners = itertools.count(1)


@dataclass(frozen=True)
class Paid:
    order_id: int
    wallet_id: int


async def _paid_order(factory: Factory) -> Paid:
    """A KES top-up of 300, completed by the rail and credited to the customer's wallet."""
    owner = next(_owners)
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=owner, asset=Asset.KES
        )
        order = await service.create_order(
            session=session, rail="pesapal", purpose="topup", idempotency_key=f"refunds-{owner}",
            customer_id=owner, account_id=wallet.id, phone="+254733000001", amount=Money.of(PAID, Asset.KES),
        )  # fmt: skip
        await session.commit()
    async with factory() as session:
        paid = CollectionResult(CollectionState.COMPLETED, "", PAID, "KES", "CONF1", "Visa")
        applied = await service.apply_result(session=session, order_id=order.id, result=paid)
        await session.commit()
    assert applied.order.status == "completed"
    return Paid(order.id, wallet.id)


async def _book(factory: Factory, paid: Paid, amount: str, *, refunded_before: int | None = None) -> bool:
    """What the staff refund route does once the rail accepted: book under the order's row lock.
    `refunded_before`: a retry's (what the first try saw); None: a new refund of the order as it is."""
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        before = order.refunded_minor if refunded_before is None else refunded_before
        booked = await refunds.book_refund(
            session=session, order=order, amount=Money.of(amount, Asset.KES), refunded_before_minor=before,
            staff_email="finance@kibeti.test", clock=FixedClock(),
        )  # fmt: skip
        await session.commit()
    return booked


def _kes(*amounts: int) -> list[Decimal]:
    return [Decimal(amount) for amount in amounts]


async def _state(factory: Factory, paid: Paid) -> tuple[Decimal, Decimal, list[Decimal]]:
    """(the order's refunded total, the wallet's balance, what each refund entry took from the wallet)."""
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id)
        balance = await ledger.balance(session=session, account_id=paid.wallet_id)
        taken = await session.scalars(
            select(Posting.amount)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.kind == "pesapal_refund", Posting.account_id == paid.wallet_id)
        )
        amounts = sorted(Money.from_minor(-minor, Asset.KES).amount for minor in taken)
    return Money.from_minor(order.refunded_minor, Asset.KES).amount, balance.amount, amounts


async def test_two_partial_refunds_are_each_booked(session_factory: Factory) -> None:
    paid = await _paid_order(session_factory)
    assert await _book(session_factory, paid, "100")
    assert await _book(session_factory, paid, "50")  # the same amount again would be a refund too
    assert await _book(session_factory, paid, "50")
    assert await _state(session_factory, paid) == (Decimal("200.00"), Decimal("100.00"), _kes(50, 50, 100))
    with pytest.raises(RefundTooLarge):
        await _book(session_factory, paid, "100.01")
    assert await _state(session_factory, paid) == (Decimal("200.00"), Decimal("100.00"), _kes(50, 50, 100))
    async with session_factory() as session:
        assert (await verify(session=session)).ok


async def test_a_retried_refund_is_booked_once(session_factory: Factory) -> None:
    paid = await _paid_order(session_factory)
    assert await _book(session_factory, paid, "100", refunded_before=0)
    assert not await _book(session_factory, paid, "100", refunded_before=0)  # the same refund, again
    assert await _state(session_factory, paid) == (Decimal("100.00"), Decimal("200.00"), _kes(100))
    assert await _book(session_factory, paid, "100")  # a second refund, of the same amount
    assert not await _book(session_factory, paid, "100", refunded_before=0)  # the first one's retry, late
    assert not await _book(session_factory, paid, "100", refunded_before=10_000)  # the second one's
    assert await _state(session_factory, paid) == (Decimal("200.00"), Decimal("100.00"), _kes(100, 100))


async def _refunds_and_retries(url: str, steps: list[tuple[str, int]]) -> None:
    """Each step: ("refund", cents) asks for a new refund (booked when service.check_refund allows
    it, as the route does), or ("retry", i) books the i-th booked refund again, as it first was."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        paid = await _paid_order(factory)
        booked: list[tuple[int, Decimal]] = []  # (refunded total before it, amount)
        for action, value in steps:
            if action == "refund":
                amount = Money.from_minor(value, Asset.KES)
                async with factory() as session:
                    order = await service.get_order(session=session, order_id=paid.order_id)
                    try:
                        service.check_refund(order, amount)
                    except RefundTooLarge:
                        continue
                    before = order.refunded_minor
                assert await _book(factory, paid, str(amount.amount), refunded_before=before)
                booked.append((before, amount.amount))
            elif booked:
                before, again = booked[value % len(booked)]
                assert not await _book(factory, paid, str(again), refunded_before=before)
            refunded, balance, amounts = await _state(factory, paid)
            assert amounts == sorted(amount for _, amount in booked)
            assert refunded == sum(amounts, Decimal(0)) <= PAID
            assert balance == PAID - refunded
        async with factory() as session:
            assert (await verify(session=session)).ok
    finally:
        await engine.dispose()


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=20_000)),
        st.tuples(st.just("retry"), st.integers(min_value=0, max_value=10)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_booked_refunds_sum_to_the_refunded_total(
    sqlite_template: Path, tmp_path: Path, steps: list[tuple[str, int]]
) -> None:
    path = tmp_path / "refunds.db"
    shutil.copy(sqlite_template, path)
    try:
        asyncio.run(_refunds_and_retries(f"sqlite+aiosqlite:///{path}", steps))
    finally:
        path.unlink(missing_ok=True)
