"""A staff refund of a PesaPal payment is recorded and held before PesaPal is asked, and its outcome
applied once: accepted -> still held until the status shows it made; refused -> released; no answer
-> unknown and still held, until PesaPal's transaction status shows it made (REVERSED: booked once),
from the scheduled check or from a staff retry (which asks the status first and never sends a
second refund while one has no outcome). COMPLETED is not "not made" (a refund may await the
merchant's approval): it stays open and held. SQLite and PostgreSQL, with a rail that answers as told (the simulator's own faults: e2e)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEntry, AuditPending
from core.audit.service import chain_pending
from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.errors import InsufficientFunds
from core.ledger.models import JournalEntry, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from core.ports import CollectionResult, CollectionStarted, CollectionState
from core.rails import refund_requests, refunds, service
from core.rails.errors import (
    RailOutcomeUnknown,
    RailRefused,
    RailUnavailable,
    RefundAwaitingOutcome,
    RefundInProgress,
    RefundOnceOnly,
)
from core.rails.refunds import RefundStatus

Factory = async_sessionmaker[AsyncSession]
PAID = Decimal("300.00")
_owners = itertools.count(1)


@dataclass
class Rail:
    """PesaPal as a test needs it. `answer`: accept | refuse | lost_made (made, the answer lost) |
    lost (not made, no answer) | false (the port's bare "not accepted"). The status says REVERSED
    once a refund was made and `approved` (PesaPal: the merchant approved it; until then COMPLETED)."""

    answer: str = "accept"
    status_fails: bool = False
    approved: bool = True
    made: list[Money] = field(default_factory=list)
    sent: int = 0
    asked: int = 0
    name: str = "pesapal"

    async def start_collection(self, **_: object) -> CollectionStarted:
        raise NotImplementedError

    async def cancel_collection(self, *, provider_reference: str) -> bool:
        return False

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        self.sent += 1
        if self.made:
            raise RailRefused("PesaPal refund refused: HTTP 200 refund_failed: already refunded")
        if self.answer == "refuse":
            raise RailRefused(
                "PesaPal refund refused: HTTP 200 refund_failed: a mobile-money payment is refunded in full only"
            )
        if self.answer == "false":
            return False
        if self.answer in ("accept", "lost_made"):
            self.made.append(amount)
        if self.answer.startswith("lost"):
            raise RailOutcomeUnknown("PesaPal refund: no answer (ReadTimeout)")
        return True

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        self.asked += 1
        if self.status_fails:
            raise RailUnavailable("PesaPal status: HTTP 503")
        state = CollectionState.REVERSED if self.made and self.approved else CollectionState.COMPLETED
        return CollectionResult(state, "", PAID, "KES", "CONF1", "Visa", state.value.title())


@dataclass(frozen=True)
class Paid:
    order_id: int
    wallet_id: int


async def _paid(factory: Factory) -> Paid:
    owner = next(_owners)
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=owner, asset=Asset.KES
        )
        order = await service.create_order(
            session=session, rail="pesapal", purpose="topup", idempotency_key=f"outcomes-{owner}",
            customer_id=owner, account_id=wallet.id, phone="+254733000001", amount=Money.of(PAID, Asset.KES),
        )  # fmt: skip
        await session.commit()
    async with factory() as session:
        paid = CollectionResult(CollectionState.COMPLETED, "", PAID, "KES", "CONF1", "Visa")
        await service.apply_result(session=session, order_id=order.id, result=paid)
        await session.commit()
    return Paid(order.id, wallet.id)


async def _refund(
    factory: Factory, rail: Rail, paid: Paid, amount: str = "100"
) -> refund_requests.RefundOutcome:
    return await refund_requests.request_refund(
        factory=factory, rail=rail, order_id=paid.order_id, amount=Money.of(amount, Asset.KES),
        staff_email="finance@kibeti.test", remarks="customer asked", actor="staff:1", one_per_payment=True,
    )  # fmt: skip


async def _money(factory: Factory, paid: Paid) -> tuple[Decimal, Decimal, Decimal, int]:
    """(balance, available, the order's refunded total, refund entries booked)."""
    async with factory() as session:
        balance = await ledger.balance(session=session, account_id=paid.wallet_id)
        available = await ledger.available(session=session, account_id=paid.wallet_id)
        order = await service.get_order(session=session, order_id=paid.order_id)
        entries = await session.scalars(select(JournalEntry.id).where(JournalEntry.kind == "pesapal_refund"))
        booked = len(list(entries))
    return balance.amount, available.amount, Money.from_minor(order.refunded_minor, Asset.KES).amount, booked


async def _audited(factory: Factory, refund_id: int) -> list[str]:
    async with factory() as session:
        await chain_pending(session=session)
        await session.commit()
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject == f"rail_refund:{refund_id}")
            .order_by(AuditEntry.seq)
        )
        assert not list(await session.scalars(select(AuditPending.id)))
        return list(rows)


async def _verified(factory: Factory) -> None:
    async with factory() as session:
        assert (await verify(session=session)).ok


async def test_accepted_and_shown_made_at_once_is_booked_from_the_status(factory: Factory) -> None:
    """Accepted is not made: the status asked right after the acceptance shows it made (an approval
    at once), and that status books it (core.rails.refund_requests.check_status)."""
    paid, rail = await _paid(factory), Rail()
    done = await _refund(factory, rail, paid)
    assert done.status == "refunded" and "made the refund of KES 100.00" in done.message
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert rail.asked == 1
    assert await _audited(factory, done.refund_id) == [
        "rail.refund_pending",
        "rail.refund_accepted",
        "rail.refund_refunded",
    ]
    with pytest.raises(RefundOnceOnly):
        await _refund(factory, rail, paid, "50")
    assert rail.sent == 1
    await _verified(factory)


async def test_refused_is_released_and_says_what_next(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail(answer="refuse")
    done = await _refund(factory, rail, paid)
    assert done.status == "refused"
    assert "refunded in full only" in done.message and "spendable again" in done.message, done.message
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)
    assert await _audited(factory, done.refund_id) == ["rail.refund_pending", "rail.refund_refused"]
    rail.answer = "accept"  # staff correct the amount: a new refund
    assert (await _refund(factory, rail, paid, "300")).status == "refunded"
    assert await _money(factory, paid) == (Decimal("0.00"), Decimal("0.00"), PAID, 1)
    await _verified(factory)


async def test_lost_answer_after_the_refund_stays_held_then_the_check_books_it_once(
    factory: Factory, clock: FixedClock
) -> None:
    paid, rail = await _paid(factory), Rail(answer="lost_made")
    unknown = await _refund(factory, rail, paid)
    assert unknown.status == "unknown" and unknown.message.startswith(
        "Outcome unknown: we are checking with PesaPal"
    )
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)  # held, not booked
    async with factory() as session:  # the customer cannot spend what is held
        with pytest.raises(InsufficientFunds):
            await ledger.place_hold(
                session=session, idempotency_key=f"spend-{paid.wallet_id}", account_id=paid.wallet_id,
                amount=Money.of("250", Asset.KES),
            )  # fmt: skip
        clearing = await ledger.system_account(session=session, kind="rail_clearing", asset=Asset.KES)
        with pytest.raises(InsufficientFunds):
            await ledger.post_entry(
                session=session, idempotency_key=f"spend2-{paid.wallet_id}", kind="test_spend",
                postings=[PostingRequest(paid.wallet_id, -Money.of("250", Asset.KES)),
                          PostingRequest(clearing.id, Money.of("250", Asset.KES))],
            )  # fmt: skip
        await session.rollback()
    first = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    again = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    assert first.status == again.status == "refunded"
    assert rail.asked == 1 and rail.sent == 1  # settled: never asked nor sent again
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert await _audited(factory, unknown.refund_id) == [
        "rail.refund_pending",
        "rail.refund_unknown",
        "rail.refund_refunded",
    ]
    async with factory() as session:  # PesaPal's REVERSED for our refund is not a chargeback
        reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
        assert (
            await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
        ).outcome == "refunded"
        await session.commit()
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    await _verified(factory)


async def test_lost_request_a_completed_status_keeps_it_unknown_and_held(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail(answer="lost")
    unknown = await _refund(factory, rail, paid)
    assert unknown.status == "unknown"
    rail.status_fails = True  # the status query gets no answer either: still unknown, still held
    assert (
        await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    ).status == "unknown"
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)
    rail.status_fails = False
    for _ in range(3):  # COMPLETED: no refund shown yet, which is not "not made"
        still = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
        assert still.status == "unknown" and "two staff members release the hold" in still.message
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)  # still held
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=unknown.refund_id)
        assert row.open_order_id == paid.order_id and row.checks == 4 and "Completed" in row.outcome
    assert rail.sent == 1
    assert await _audited(factory, unknown.refund_id) == ["rail.refund_pending", "rail.refund_unknown"]
    await _verified(factory)


async def test_a_refund_awaiting_approval_is_booked_once_when_approved_never_short(
    factory: Factory,
) -> None:
    """PesaPal took the refund (its answer lost) but the merchant has not approved it: the status says
    COMPLETED; the hold stays, so when it is approved (REVERSED) it is booked once in full."""
    paid, rail = await _paid(factory), Rail(answer="lost_made", approved=False)
    unknown = await _refund(factory, rail, paid, "300")
    for _ in range(2):
        assert (
            await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
        ).status == "unknown"
    async with factory() as session:  # the customer cannot spend what awaits approval
        with pytest.raises(InsufficientFunds):
            await ledger.place_hold(
                session=session, idempotency_key=f"spend-{paid.wallet_id}", account_id=paid.wallet_id,
                amount=Money.of("1", Asset.KES),
            )  # fmt: skip
        await session.rollback()
    async with factory() as session:
        suspense = await ledger.system_account(session=session, kind="suspense", asset=Asset.KES)
        owed_before = await ledger.balance(session=session, account_id=suspense.id)
        await session.commit()
    rail.approved = True  # approved on PesaPal's dashboard: Reversed
    done = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    again = await refund_requests.check_status(factory=factory, rail=rail, refund_id=unknown.refund_id)
    assert done.status == again.status == "refunded"
    assert await _money(factory, paid) == (Decimal("0.00"), Decimal("0.00"), PAID, 1)
    async with factory() as session:
        assert await ledger.balance(session=session, account_id=suspense.id) == owed_before  # no shortfall
    assert rail.sent == 1 and len(rail.made) == 1
    assert await _audited(factory, unknown.refund_id) == [
        "rail.refund_pending",
        "rail.refund_unknown",
        "rail.refund_refunded",
    ]
    await _verified(factory)


async def test_retry_while_unknown_asks_the_status_first_and_never_refunds_twice(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail(answer="lost_made")
    first = await _refund(factory, rail, paid)
    assert first.status == "unknown"
    rail.status_fails = True
    with pytest.raises(RefundAwaitingOutcome) as still:  # the status query fails too: nothing sent
        await _refund(factory, rail, paid)
    assert still.value.refund_id == first.refund_id and rail.sent == 1 and rail.asked == 1
    assert "already with PesaPal awaiting an outcome" in str(still.value)
    rail.status_fails = False
    retried = await _refund(factory, rail, paid)
    assert retried.status == "refunded" and retried.refund_id == first.refund_id
    assert rail.sent == 1 and len(rail.made) == 1
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    with pytest.raises(RefundOnceOnly):  # and a further retry is PesaPal's one-refund rule
        await _refund(factory, rail, paid)
    assert rail.sent == 1
    await _verified(factory)


@pytest.mark.parametrize("answer", ["lost", "lost_made"])
async def test_a_staff_retry_while_completed_sends_nothing(factory: Factory, answer: str) -> None:
    """The retry right after the 202: PesaPal's status shows no refund yet (lost before PesaPal, or
    awaiting the merchant's approval): 409-style refusal saying what next, no second RefundRequest,
    the first refund still open and held."""
    paid, rail = await _paid(factory), Rail(answer=answer, approved=False)
    first = await _refund(factory, rail, paid)
    rail.answer = "accept"
    for _ in range(2):
        with pytest.raises(RefundAwaitingOutcome) as refused:
            await _refund(factory, rail, paid)
        said = str(refused.value)
        assert refused.value.code == "refund_awaiting_outcome" and refused.value.refund_id == first.refund_id
        assert "already with PesaPal awaiting an outcome" in said and "dashboard" in said
        assert "second staff member confirms" in said
    assert rail.sent == 1 and rail.asked == 2
    async with factory() as session:
        states = [row.status for row in await refunds.refunds_of(session=session, order_id=paid.order_id)]
    assert states == ["unknown"]
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)
    await _verified(factory)


@pytest.mark.parametrize("made", [False, True])
async def test_a_refund_on_the_wire_is_left_to_its_sender(
    factory: Factory, clock: FixedClock, made: bool
) -> None:
    """A pending refund (its sender waiting, or dead before or after PesaPal got it) is never sent
    again; its status is asked only after IN_FLIGHT: made -> booked; COMPLETED -> unknown, held."""
    paid, rail = await _paid(factory), Rail()
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        row = await refunds.record_refund(
            session=session, order=order, amount=Money.of("100", Asset.KES), staff_email="f@kibeti.test",
            remarks="", actor="staff:1",
        )  # fmt: skip
        await session.commit()
    if made:  # the sender died after PesaPal made it, before booking it
        rail.made.append(Money.of("100", Asset.KES))
    with pytest.raises(RefundAwaitingOutcome) as on_wire:
        await _refund(factory, rail, paid)
    assert on_wire.value.refund_id == row.id and rail.asked == rail.sent == 0
    assert "(refund " in str(on_wire.value) and "pending" in str(on_wire.value)
    clock.advance(seconds=refunds.IN_FLIGHT.total_seconds() + 1)
    if made:
        assert (await _refund(factory, rail, paid)).status == "refunded"
        assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    else:  # died before or after the POST: PesaPal's COMPLETED cannot tell which
        with pytest.raises(RefundAwaitingOutcome):
            await _refund(factory, rail, paid)
        async with factory() as session:
            assert (await refunds.get_refund(session=session, refund_id=row.id)).status == "unknown"
        assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)
    assert rail.asked == 1 and rail.sent == 0 and len(rail.made) == (1 if made else 0)
    await _verified(factory)


async def test_a_bare_not_accepted_is_unknown_and_an_unrecorded_refund_is_named(factory: Factory) -> None:
    paid, rail = await _paid(factory), Rail(answer="false")
    assert (await _refund(factory, rail, paid)).status == "unknown"
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)
    other, rail = await _paid(factory), Rail(made=[Money.of("300", Asset.KES)])  # refunded outside Kibeti
    refused = await _refund(factory, rail, other)
    assert refused.status == "refused" and "we hold no record of that refund" in refused.message
    assert await _money(factory, other) == (PAID, PAID, Decimal("0.00"), 0)


async def test_a_hold_per_refund_and_one_open_refund_per_order(factory: Factory) -> None:
    paid = await _paid(factory)
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        await refunds.record_refund(
            session=session, order=order, amount=Money.of("100", Asset.KES), staff_email="f@kibeti.test",
            remarks="", actor="staff:1",
        )  # fmt: skip
        await session.commit()
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        with pytest.raises(RefundInProgress):
            await refunds.record_refund(
                session=session, order=order, amount=Money.of("50", Asset.KES), staff_email="f@kibeti.test",
                remarks="", actor="staff:1",
            )  # fmt: skip
        await session.rollback()
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)
    assert RefundStatus.PENDING.value in refunds.OPEN_REFUND


async def test_a_refund_above_what_the_wallet_holds_is_refused_before_anything_is_sent(
    factory: Factory,
) -> None:
    paid, rail = await _paid(factory), Rail()
    async with factory() as session:  # the customer spent 250 of the 300
        await ledger.place_hold(
            session=session, idempotency_key=f"spent-{paid.wallet_id}", account_id=paid.wallet_id,
            amount=Money.of("250", Asset.KES),
        )  # fmt: skip
        await session.commit()
    with pytest.raises(InsufficientFunds):
        await _refund(factory, rail, paid)
    assert rail.sent == 0
    async with factory() as session:
        assert await refunds.refunds_of(session=session, order_id=paid.order_id) == []
    assert (await _refund(factory, rail, paid, "50")).status == "refunded"
