"""A refund whose outcome is unknown is released only by two staff members (maker-checker) after
checking PesaPal's dashboard: the maker proposes (audited), a different checker confirms; PesaPal's
status is asked once more (made -> booked, nothing released); the hold is voided once; a refund PesaPal
makes after all is still booked once. After the release a new refund may be sent; PesaPal's
"already refunded" then names our released refund. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.audit.service import chain_pending
from core.clock import FixedClock
from core.ledger.models import Hold, HoldStatus
from core.money import Asset, Money
from core.ports import CollectionResult, CollectionState
from core.rails import refund_release, refunds, service
from core.rails.errors import (
    RefundAwaitingOutcome,
    RefundInProgress,
    RefundNotOpen,
    RefundReleaseNotProposed,
    RefundReleaseSamePerson,
)
from tests.integration.pesapal.test_refund_outcomes import (
    PAID,
    Factory,
    Paid,
    Rail,
    _money,
    _paid,
    _refund,
    _verified,
)

MAKER, CHECKER = "staff:11", "staff:12"
SAW = "PesaPal dashboard: no refund request for this payment"


async def _propose(factory: Factory, refund_id: int, maker: str = MAKER) -> None:
    async with factory() as session:
        await refund_release.propose_release(session=session, refund_id=refund_id, maker=maker, reason=SAW)
        await session.commit()


async def _unknown(factory: Factory, rail: Rail) -> tuple[Paid, int]:
    paid = await _paid(factory)
    first = await _refund(factory, rail, paid)
    assert first.status == "unknown"
    return paid, first.refund_id


async def _audit(factory: Factory, refund_id: int) -> list[tuple[str, str]]:
    async with factory() as session:
        await chain_pending(session=session)
        await session.commit()
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.subject == f"rail_refund:{refund_id}")
            .order_by(AuditEntry.seq)
        )
        return [(action, actor) for action, actor in rows.all()]


async def test_two_staff_release_the_hold_once_then_a_new_refund_may_be_sent(factory: Factory) -> None:
    rail = Rail(answer="lost")
    paid, refund_id = await _unknown(factory, rail)
    with pytest.raises(RefundReleaseNotProposed):
        await refund_release.confirm_release(factory=factory, rail=rail, refund_id=refund_id, checker=CHECKER)
    await _propose(factory, refund_id)
    with pytest.raises(RefundReleaseSamePerson):  # the maker cannot confirm their own
        await refund_release.confirm_release(factory=factory, rail=rail, refund_id=refund_id, checker=MAKER)
    assert await _money(factory, paid) == (PAID, Decimal("200.00"), Decimal("0.00"), 0)  # still held
    released = await refund_release.confirm_release(
        factory=factory, rail=rail, refund_id=refund_id, checker=CHECKER
    )
    assert released.status == "not_refunded" and "released" in released.message
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)
    with pytest.raises(RefundNotOpen):  # the hold is voided once
        await refund_release.confirm_release(factory=factory, rail=rail, refund_id=refund_id, checker=CHECKER)
    with pytest.raises(RefundNotOpen):
        await _propose(factory, refund_id, "staff:13")
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id)
        assert row.hold_id is not None and row.open_order_id is None
        assert MAKER in row.outcome and CHECKER in row.outcome and SAW in row.outcome
        hold = await session.get(Hold, row.hold_id)
        assert hold is not None and hold.status == HoldStatus.VOIDED.value
    assert sorted(await _audit(factory, refund_id)) == sorted(  # PostgreSQL chains money rows later
        [
            ("rail.refund_pending", "staff:1"),
            ("rail.refund_unknown", "staff:1"),
            (refund_release.PROPOSED, MAKER),
            ("rail.refund_not_refunded", CHECKER),  # the release, as the checker (the maker named in it)
        ]
    )
    rail.answer = "accept"  # staff ask again: a new refund, sent once
    again = await _refund(factory, rail, paid)
    assert again.status == "refunded" and again.refund_id != refund_id and rail.sent == 2
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    await _verified(factory)


async def test_confirm_books_a_refund_pesapal_shows_made_and_releases_nothing(factory: Factory) -> None:
    rail = Rail(answer="lost_made", approved=False)
    paid, refund_id = await _unknown(factory, rail)
    await _propose(factory, refund_id)
    rail.approved = True  # the merchant approved it on PesaPal meanwhile: Reversed
    done = await refund_release.confirm_release(
        factory=factory, rail=rail, refund_id=refund_id, checker=CHECKER
    )
    assert done.status == "refunded"
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    await _verified(factory)


async def test_released_then_made_after_all_is_booked_once_and_named_on_a_new_refusal(
    factory: Factory,
) -> None:
    """Staff were wrong: PesaPal had the refund awaiting approval. A new refund is refused 'already
    refunded', saying we hold the released one; approved later, Reversed books it once."""
    rail = Rail(answer="lost_made", approved=False)
    paid, refund_id = await _unknown(factory, rail)
    await _propose(factory, refund_id)
    await refund_release.confirm_release(factory=factory, rail=rail, refund_id=refund_id, checker=CHECKER)
    refused = await _refund(factory, rail, paid)
    assert refused.status == "refused" and rail.sent == 2
    assert "we hold no record" not in refused.message and "We do hold an earlier refund" in refused.message
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)
    rail.approved = True
    reversed_ = CollectionResult(CollectionState.REVERSED, "", PAID, "KES", "CONF1", "Visa")
    for _ in range(2):  # the daily watch
        async with factory() as session:
            applied = await service.apply_result(session=session, order_id=paid.order_id, result=reversed_)
            assert applied.outcome == "refunded"
            await session.commit()
    async with factory() as session:
        assert (await refunds.get_refund(session=session, refund_id=refund_id)).status == "refunded_late"
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    await _verified(factory)


async def test_a_refund_on_the_wire_cannot_be_released(factory: Factory, clock: FixedClock) -> None:
    paid, rail = await _paid(factory), Rail()
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        row = await refunds.record_refund(
            session=session, order=order, amount=Money.of("100", Asset.KES), staff_email="f@kibeti.test",
            remarks="", actor="staff:1",
        )  # fmt: skip
        await session.commit()
    with pytest.raises(RefundInProgress):
        await _propose(factory, row.id)
    clock.advance(seconds=refunds.IN_FLIGHT.total_seconds() + 1)  # its sender died
    await _propose(factory, row.id)
    with pytest.raises(RefundAwaitingOutcome):
        await _refund(factory, rail, paid)
    done = await refund_release.confirm_release(factory=factory, rail=rail, refund_id=row.id, checker=CHECKER)
    assert done.status == "not_refunded" and rail.sent == 0
    assert await _money(factory, paid) == (PAID, PAID, Decimal("0.00"), 0)
