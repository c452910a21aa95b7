"""A staff refund of a rail payment, start to end, and the status check that settles one that is
open (from the staff retry and from the scheduled reconciler).

request_refund: an open refund of the order (pending, unknown or accepted) is checked with the
provider first and never sent again: made -> booked; otherwise RefundAwaitingOutcome (staff wait,
approve it on PesaPal's dashboard, or release it through two people: core.rails.refund_release).
Else the refund is recorded and held (one transaction, committed), the rail is asked (outside any
transaction), and its answer applied: accepted -> `accepted`, still held (PesaPal makes a refund
only once the merchant approves it on its dashboard), then the status is asked at once (an
approval may be instant); refused in so many words -> released; anything else (no answer,
timeout, 5xx, an error PesaPal's code does not name as a refusal, unreadable, a crash) -> unknown,
still held.
check_status: the one path that books a refund. The provider's transaction status settles an open
refund only when it shows the refund made (REVERSED: booked once, settle_made). COMPLETED does not
say "not made": PesaPal has a refund request waiting for the merchant's approval while the payment
still shows COMPLETED (its Refund Request: "A refund has to be approved by the merchant"), so the
refund stays open (unknown or accepted) and held, and escalates (core.rails.jobs: the long-unknown
and awaiting-approval alerts) until it is made or two staff release it. A status answer that cannot
be read (not PesaPal's documented object, or anything the adapter did not foresee) settles nothing:
the refund stays open and held, and the outcome says so (`unreadable`: staff are told to try again
later or check PesaPal's dashboard; the two-person release refuses to release on it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.money import Asset, Money, format_money
from core.ports import CollectionRail, CollectionState
from core.rails import refunds, service
from core.rails.errors import (
    RailAnswerUnreadable,
    RailError,
    RailOutcomeUnknown,
    RailRefused,
    RefundAwaitingOutcome,
    RefundOnceOnly,
)
from core.rails.models import RailRefund
from core.rails.refunds import IN_FLIGHT, OPEN_REFUND, RefundStatus

log = logging.getLogger(__name__)
Factory = async_sessionmaker[AsyncSession]
SYSTEM = "system:rail-refunds"
# In a refusal's outcome: we hold an earlier refund of the payment that was released as not made.
HELD_RECORD = "our refund {id} of this payment was released as not made"
# A refund PesaPal accepted: its outcome text starts so while it awaits the merchant's approval.
ACCEPTED_SAID = "accepted by PesaPal, waiting for approval on PesaPal's dashboard"


# In an open refund's outcome: PesaPal's status answer about it could not be read.
UNREADABLE_SAID = "PesaPal's status answer could not be read"


@dataclass(frozen=True)
class RefundOutcome:
    refund_id: int
    status: str  # a RefundStatus value
    message: str  # for staff: what happened and what to do next
    unreadable: bool = False  # PesaPal's status answer could not be read just now (nothing settled)


def unreadable_message(amount_minor: int) -> str:
    """For staff, ahead of the refund's own message: the status asked just now said nothing."""
    return (
        f"{UNREADABLE_SAID}, so nothing was booked or released: the {_kes(amount_minor)} stays held on "
        "the customer's wallet. Try again in a few minutes, or check the refund on PesaPal's dashboard."
    )


def _kes(minor: int) -> str:
    return format_money(Money.from_minor(minor, Asset.KES))


def message_of(row: RailRefund) -> str:
    amount = _kes(row.amount_minor)
    if row.status == RefundStatus.REFUNDED.value:
        return f"PesaPal made the refund of {amount}; the customer's wallet was debited {amount} once."
    if row.status == RefundStatus.REFUSED.value and "already refunded" in row.outcome:
        if _held_record_in(row.outcome):
            return (
                f"PesaPal refused the refund: it says this payment was already refunded ({row.outcome}). "
                "We do hold an earlier refund of it, released as not made: PesaPal may have made it after "
                f"all. Nothing was debited now and the {amount} held for this request was released. Next: "
                "do not refund again; the earlier refund is booked once when PesaPal's status shows the "
                f"payment Reversed (asked daily for {_released_days()} days after its release); check "
                "PesaPal's dashboard and raise it with finance."
            )
        return (
            f"PesaPal refused the refund: it says this payment was already refunded ({row.outcome}), and "
            f"we hold no record of that refund. Nothing was debited and the {amount} held was released. "
            "Next: raise it with finance (a refund made outside Kibeti, e.g. on PesaPal's dashboard); "
            "do not refund this payment again."
        )
    if row.status == RefundStatus.REFUSED.value:
        return (
            f"PesaPal refused the refund ({row.outcome}). Nothing was debited and the {amount} held on the "
            "customer's wallet is spendable again. Next: check the amount (a mobile-money payment is "
            "refunded in full only) and try again, or let the customer cash out to M-Pesa from the wallet."
        )
    if row.status == RefundStatus.NOT_REFUNDED.value:
        return (
            f"Released as not made ({row.outcome}): the {amount} held on the customer's wallet was "
            "released and nothing was debited. If PesaPal makes it after all, it is booked then (the "
            "wallet as far as it goes, a case for the rest; PesaPal's status is asked daily for "
            f"{_released_days()} days after the release). You may request the refund again."
        )
    if row.status == RefundStatus.REFUNDED_LATE.value:
        return (
            f"PesaPal made the refund of {amount} after we had released the hold ({row.outcome}): the "
            f"customer's wallet was debited {amount} once. Nothing more to do."
        )
    if row.status == RefundStatus.REFUNDED_SHORT.value:
        return (
            f"PesaPal made the refund of {amount} after we had released the hold and the customer had "
            f"spent part of it ({row.outcome}): the wallet was debited what it held and the rest is owed. "
            "A compliance case was opened: recover the rest with the customer; do not refund again."
        )
    if row.status == RefundStatus.PENDING.value:
        return f"The refund of {amount} is being sent to PesaPal right now; look again in a minute."
    if row.status == RefundStatus.ACCEPTED.value:
        return (
            f"Accepted by PesaPal, waiting for approval on PesaPal's dashboard: PesaPal makes the refund "
            f"only once the merchant approves it there. The {amount} stays held on the customer's wallet "
            "and nothing is debited until PesaPal's status shows the refund made (Reversed; asked every "
            "few minutes), then it is booked once. Next: approve it on PesaPal's dashboard. If it was "
            "declined there, two staff members release the hold (propose, then confirm); never refund "
            "by other means."
        )
    return (
        f"Outcome unknown: we are checking with PesaPal. The {amount} stays held on the customer's wallet "
        "until PesaPal's status shows the refund made (asked every few minutes; a refund waiting for the "
        "merchant's approval on PesaPal shows the payment Completed); do not refund by other means. "
        "Asking for this refund again checks the status first; it is never sent twice. If PesaPal's "
        "dashboard has no such refund, two staff members release the hold (propose, then confirm)."
    )


def _released_days() -> int:
    """How long a released refund's order is still asked about (core.rails.jobs.RELEASED_WATCH)."""
    return refunds.RELEASED_WATCH.days


def _held_record_in(outcome: str) -> bool:
    head, _, tail = HELD_RECORD.partition("{id}")
    return head in outcome and tail in outcome


def awaiting_message(row: RailRefund) -> str:
    """Why a new refund of the payment is not sent while this one has no definite outcome."""
    return (
        f"A refund of this payment is already with PesaPal awaiting an outcome (refund {row.id}, "
        f"{_kes(row.amount_minor)}, {_state_said(row)}); nothing was sent again and nothing more was held. "
        "Next: wait, we ask PesaPal's status every few minutes and book it once when PesaPal shows it "
        "made (a refund may be waiting for the merchant's approval on PesaPal's dashboard: approve it "
        "there). If PesaPal's dashboard has no such refund, release the hold through the two-person "
        f"release (POST /api/staff/pesapal/refunds/{row.id}/release, then a second staff member "
        "confirms), then ask for the refund again."
    )


def _state_said(row: RailRefund) -> str:
    return ACCEPTED_SAID if row.status == RefundStatus.ACCEPTED.value else row.status


def outcome_of(row: RailRefund) -> RefundOutcome:
    return RefundOutcome(row.id, row.status, message_of(row))


def view(row: RailRefund) -> dict[str, Any]:
    """A refund as staff see it."""
    return {
        "id": row.id, "order_id": row.order_id, "status": row.status,
        "amount": str(Money.from_minor(row.amount_minor, Asset.KES).amount), "staff": row.staff_email,
        "outcome": row.outcome, "checks": row.checks, "message": message_of(row),
        "created_at": row.created_at, "resolved_at": row.resolved_at,
    }  # fmt: skip


async def _reload(factory: Factory, refund_id: int) -> RefundOutcome:
    async with factory() as session:
        return outcome_of(await refunds.get_refund(session=session, refund_id=refund_id))


async def check_status(
    *, factory: Factory, rail: CollectionRail, refund_id: int, actor: str = SYSTEM
) -> RefundOutcome:
    """Ask the provider's transaction status about an open refund and settle it when it says: the
    one path that books a refund (REVERSED: settle_made, once). Anything else leaves it open and
    held: an accepted one stays accepted, a pending or unknown one is unknown."""
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id, lock=True)
        if row.status not in OPEN_REFUND:
            return outcome_of(row)
        now = clock_of(session).now()
        if row.status == RefundStatus.PENDING.value and now - row.updated_at < IN_FLIGHT:
            return outcome_of(row)  # its sender may still be waiting for the answer
        order = await service.get_order(session=session, order_id=row.order_id)
        tracking = order.tracking_id or ""
        accepted = row.status == RefundStatus.ACCEPTED.value
        row.checks += 1
        await session.commit()
    head = f"{ACCEPTED_SAID}; " if accepted else ""
    try:
        result = await rail.collection_status(provider_reference=tracking)
    except RailAnswerUnreadable as exc:
        return await _unreadable(factory, refund_id, f"{head}{UNREADABLE_SAID}: {exc}", actor)
    except RailError as exc:
        async with factory() as session:
            await refunds.mark_unknown(
                session=session, refund_id=refund_id, outcome=f"{head}status query: {exc}", actor=actor
            )
            await session.commit()
        return await _reload(factory, refund_id)
    except Exception as exc:  # an answer no adapter foresaw: unknown, never an error to staff
        log.warning("rail refund %s: status answer unreadable (%r); still held", refund_id, exc)
        return await _unreadable(factory, refund_id, f"{head}{UNREADABLE_SAID} ({exc!r})", actor)
    async with factory() as session:
        said = f"PesaPal's status: {result.description or result.state.value}"
        if result.state is CollectionState.REVERSED:
            await refunds.settle_made(
                session=session, refund_id=refund_id, outcome=f"{said} (refunded)", actor=actor
            )
        elif result.state is CollectionState.COMPLETED:  # not "not made": it may await approval
            await refunds.mark_unknown(
                session=session, refund_id=refund_id, actor=actor,
                outcome=f"{head}{said}, no refund shown yet (it may await the merchant's approval): held",
            )  # fmt: skip
        else:
            await refunds.mark_unknown(
                session=session, refund_id=refund_id, outcome=f"{head}{said}: asked again later", actor=actor
            )
        await session.commit()
    return await _reload(factory, refund_id)


async def _unreadable(factory: Factory, refund_id: int, outcome: str, actor: str) -> RefundOutcome:
    """The status answer could not be read: the refund stays open and held (an accepted one stays
    accepted), its outcome says so, and staff are told to try again later."""
    async with factory() as session:
        await refunds.mark_unknown(session=session, refund_id=refund_id, outcome=outcome, actor=actor)
        await session.commit()
    said = await _reload(factory, refund_id)
    if said.status not in OPEN_REFUND:  # settled meanwhile by another path: that is the answer
        return said
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id)
    return replace(said, message=f"{unreadable_message(row.amount_minor)} {said.message}", unreadable=True)


async def request_refund(
    *,
    factory: Factory,
    rail: CollectionRail,
    order_id: int,
    amount: Money,
    staff_email: str,
    remarks: str,
    actor: str,
    one_per_payment: bool,
) -> RefundOutcome:
    """Raises RefundAwaitingOutcome (an earlier refund of the order is pending or unknown: its status
    was asked, it is never sent again), RefundTooLarge, RefundInProgress, RefundOnceOnly
    (`one_per_payment`: the rail takes one refund per payment and this one has one) or the ledger's
    InsufficientFunds, before anything is sent. Otherwise the refund's outcome: accepted (PesaPal took
    it; held until the merchant approves it on PesaPal's dashboard and the status shows it made),
    refunded (the status shows it made), refused or unknown (an earlier open one PesaPal's status
    shows made: refunded)."""
    async with factory() as session:
        earlier = await refunds.open_refund(session=session, order_id=order_id)
    if earlier is not None:
        settled = await check_status(factory=factory, rail=rail, refund_id=earlier.id, actor=actor)
        if settled.status in OPEN_REFUND:
            async with factory() as session:
                row = await refunds.get_refund(session=session, refund_id=earlier.id)
            said = awaiting_message(row)
            if settled.unreadable:
                said = f"{unreadable_message(row.amount_minor)} {said}"
            raise RefundAwaitingOutcome(said, refund_id=earlier.id)
        if settled.status != RefundStatus.NOT_REFUNDED.value:
            return settled  # made (booked now or before)
    async with factory() as session:
        order = await service.get_order(session=session, order_id=order_id, lock=True)
        if one_per_payment and order.refunded_minor > 0:
            raise RefundOnceOnly(f"order {order.id} was refunded already")
        row = await refunds.record_refund(
            session=session, order=order, amount=amount, staff_email=staff_email, remarks=remarks, actor=actor
        )
        refund_id, confirmation = row.id, order.confirmation
        await session.commit()
    try:
        accepted = await rail.refund_collection(confirmation=confirmation, amount=amount, remarks=remarks)
        if not accepted:  # the port's "not accepted" without a refusal: nothing is known
            raise RailOutcomeUnknown("the rail did not say it accepted the refund")
    except RailRefused as exc:
        async with factory() as session:
            said = str(exc)
            earlier_released = await refunds.released_refund(session=session, order_id=order_id)
            if earlier_released is not None:
                said = f"{HELD_RECORD.format(id=earlier_released.id)}: {said}"
            await refunds.release(
                session=session, refund_id=refund_id, status=RefundStatus.REFUSED, outcome=said, actor=actor
            )
            await session.commit()
        return await _reload(factory, refund_id)
    except Exception as exc:  # no answer, a timeout, a 5xx, unreadable, or a bug: not a failure
        log.warning("rail refund %s: outcome unknown (%r); held until the status settles it", refund_id, exc)
        async with factory() as session:
            await refunds.mark_unknown(
                session=session, refund_id=refund_id, outcome=str(exc) or repr(exc), actor=actor
            )
            await session.commit()
        return await _reload(factory, refund_id)
    async with factory() as session:  # accepted is not made: held until the status shows it made
        accepted = await refunds.mark_accepted(
            session=session, refund_id=refund_id, outcome=ACCEPTED_SAID, actor=actor
        )
        await session.commit()
    if not accepted:
        return await _accepted_after_release(factory, rail, refund_id, actor)
    try:  # an approval may be instant: the status books it now if it shows it made
        return await check_status(factory=factory, rail=rail, refund_id=refund_id, actor=actor)
    except Exception as exc:  # the acceptance is recorded and held: the scheduled check asks again
        log.warning("rail refund %s accepted; its first status check failed (%r)", refund_id, exc)
        return await _reload(factory, refund_id)


async def _accepted_after_release(
    factory: Factory, rail: CollectionRail, refund_id: int, actor: str
) -> RefundOutcome:
    """PesaPal accepted a refund whose hold two staff had released meanwhile (the answer slower than
    IN_FLIGHT). Accepted is not made: it is booked only when PesaPal's status shows it made
    (settle_made_late, as for any released refund made after all); until then staff are told at once,
    since PesaPal may still make it when the merchant approves it (decline it on the dashboard)."""
    log.warning("rail refund %s accepted by PesaPal after its hold was released", refund_id)
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id)
        order = await service.get_order(session=session, order_id=row.order_id)
        tracking, order_id = order.tracking_id or "", order.id
    try:
        result = await rail.collection_status(provider_reference=tracking)
        made = result.state is CollectionState.REVERSED
    except Exception as exc:  # no answer, or one that could not be read: not shown made (yet)
        log.warning("rail refund %s: status after a late acceptance not read (%r)", refund_id, exc)
        made = False
    async with factory() as session:
        if made:
            await refunds.settle_made_late(
                session=session, refund_id=refund_id, actor=actor,
                outcome="accepted by PesaPal after the hold was released; PesaPal's status: Reversed",
            )  # fmt: skip
        elif row.status == RefundStatus.NOT_REFUNDED.value:
            await refunds.stage_case(
                session=session, kind=refunds.CASE_ACCEPTED_AFTER_RELEASE, order_id=order_id,
                refund_id=refund_id,
            )  # fmt: skip
        await session.commit()
    return await _reload(factory, refund_id)
