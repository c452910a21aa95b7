"""Refunds of a completed card / Airtel Money payment, given back to where it came from.

A staff refund is recorded (pending) with its amount held on the customer's wallet before the rail
is asked (record_refund). Its answer never books it: PesaPal makes a refund only once the merchant
approves it on PesaPal's dashboard ("A refund has to be approved by the merchant"), so an accepted
RefundRequest is `accepted` (mark_accepted: still held), no answer is `unknown` (mark_unknown: still
held), and a refusal in so many words is `refused` (release: the hold voided). One path books a
refund: the provider's status showing it made (PesaPal: REVERSED; core.rails.refund_requests.
check_status -> settle_made: the hold posted, once). A status that shows no refund (PesaPal:
COMPLETED) is not "not made": the refund may await the merchant's approval; only two staff members
release such a hold (core.rails.refund_release, status not_refunded). A refund released as not made
that the provider made after all (a later REVERSED) is booked once (settle_made_late): the wallet as
far as it goes, the rest owed with a staff case (stage_case). `book_refund` books a refund made
without a hold (kept for its callers).

Each refund of an order is its own ledger entry, named by the order's refunded total after it: an
order refunded in parts has one entry per part, and booking the same refund again (a retry) finds
its entry and changes nothing, the order's refunded total included."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock, clock_of
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox import handlers
from core.outbox import service as outbox
from core.rails.errors import RailOrderConflict, RefundInProgress, RefundTooLarge, UnknownRailOrder
from core.rails.models import OrderStatus, RailOrder, RailRefund
from core.rails.service import check_refund, take_back_postings


def refund_key(order: RailOrder, refunded_through_minor: int) -> str:
    """The ledger key of the order's refund that brought its refunded total to `refunded_through_minor`
    (totals only grow: no two refunds of an order share one)."""
    return f"rail:{order.rail}:{order.merchant_reference}:refund:{refunded_through_minor}"


async def book_refund(
    *,
    session: AsyncSession,
    order: RailOrder,
    amount: Money,
    refunded_before_minor: int,
    staff_email: str,
    clock: Clock,
) -> bool:
    """A refund the rail made, booked without a hold: the customer's KES wallet to the rail's clearing
    account, and the order's refunded total, in the caller's transaction (the caller commits).
    `refunded_before_minor`: the order's refunded total when this refund was checked and sent to the
    rail (under the order's row lock); a retry passes the same. Returns True when booked now, False
    when this refund was booked already."""
    through = refunded_before_minor + amount.minor
    if amount.minor <= 0 or through > order.amount_minor:
        raise RefundTooLarge(f"a refund of {amount.amount} would take order {order.id} above what was paid")
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    entry = await ledger.post_entry(
        session=session,
        idempotency_key=refund_key(order, through),
        kind=f"{order.rail}_refund",
        postings=[PostingRequest(order.account_id, -amount), PostingRequest(clearing.id, amount)],
        memo=f"{order.rail} refund {order.confirmation}",
        details={"rail_order_id": order.id, "staff": staff_email, "refunded_through_minor": through},
    )
    if entry.replayed:
        return False
    if order.refunded_minor != refunded_before_minor:  # booked past a refund this one never saw
        raise RailOrderConflict(
            f"order {order.id} holds {order.refunded_minor} minor units refunded, this refund saw "
            f"{refunded_before_minor}"
        )
    order.refunded_minor = through
    order.updated_at = clock.now()
    return True


# --- a refund recorded, held and sent; its outcome applied exactly once -------------------------

# The web app (which may import compliance) raises the staff alert / opens the case (kinds below).
CASE_JOB = handlers.OPEN_REFUND_CASE
CASE_SHORT = "refund_short"  # made after its hold was released; the wallet no longer covered it
CASE_LONG_UNKNOWN = "refund_long_unknown"  # outcome unknown too long (core.rails.jobs)
# accepted by PesaPal, not approved on its dashboard (not made) too long (core.rails.jobs)
CASE_AWAITING_APPROVAL = "refund_awaiting_approval"
# accepted by PesaPal after two staff had released its hold: it may still be approved and made
CASE_ACCEPTED_AFTER_RELEASE = "refund_accepted_after_release"
CASE_REVERSED_AFTER_PARTIAL = "reversed_after_partial_refund"  # REVERSED, less than paid refunded

# A refund two staff released as not made (declined or never approved on PesaPal's dashboard, or
# unknown and not there) may still be made by PesaPal (the merchant approving it late): its order is
# asked about daily this long after the release (core.rails.jobs.watch_reversals), whenever the order
# itself last changed, and a Reversed status books it once (settle_made_late). docs/OPERATIONS.md
# (the PesaPal refund runbook) states this window.
RELEASED_WATCH = timedelta(days=60)

# A pending refund younger than this may still be on the wire (the client's 30 s timeout, a token
# fetch and a refused token's retry included): its status is not asked before.
IN_FLIGHT = timedelta(minutes=5)


class RefundStatus(StrEnum):
    PENDING = "pending"  # recorded and held; the request is being sent (or the sender died)
    UNKNOWN = "unknown"  # sent, no readable answer: held until PesaPal's status settles it
    # PesaPal accepted the request; it is made only when the merchant approves it on PesaPal's
    # dashboard (the status then shows REVERSED): held until then, booked only from that status
    ACCEPTED = "accepted"
    REFUNDED = "refunded"  # the provider made it: the hold posted (booked once)
    REFUSED = "refused"  # the provider refused it in so many words: the hold released
    # unknown, then two staff found no such refund on the provider's dashboard: released
    NOT_REFUNDED = "not_refunded"
    # made after all, once released (a later REVERSED): booked
    REFUNDED_LATE = "refunded_late"  # the wallet covered it
    REFUNDED_SHORT = "refunded_short"  # the wallet did not: the rest owed (suspense), a staff case


OPEN_REFUND = (RefundStatus.PENDING.value, RefundStatus.UNKNOWN.value, RefundStatus.ACCEPTED.value)


def _lock(session: AsyncSession, query: Select[tuple[RailRefund]]) -> Select[tuple[RailRefund]]:
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return query.execution_options(populate_existing=True)


async def get_refund(*, session: AsyncSession, refund_id: int, lock: bool = False) -> RailRefund:
    query = select(RailRefund).where(RailRefund.id == refund_id)
    row = (await session.execute(_lock(session, query) if lock else query)).scalar_one_or_none()
    if row is None:
        raise UnknownRailOrder(f"no rail refund {refund_id}")
    return row


async def open_refund(*, session: AsyncSession, order_id: int) -> RailRefund | None:
    query = select(RailRefund).where(RailRefund.open_order_id == order_id)
    return (await session.execute(query)).scalar_one_or_none()


async def refunds_of(*, session: AsyncSession, order_id: int) -> list[RailRefund]:
    query = select(RailRefund).where(RailRefund.order_id == order_id).order_by(RailRefund.id)
    return list((await session.execute(query)).scalars())


async def open_refunds(*, session: AsyncSession, limit: int = 200) -> list[RailRefund]:
    query = select(RailRefund).where(RailRefund.status.in_(OPEN_REFUND)).order_by(RailRefund.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def _audit(session: AsyncSession, actor: str, row: RailRefund, action: str, why: str = "") -> None:
    await audit.record_deferred(
        session=session, actor=actor, action=f"rail.refund_{action}", subject=f"rail_refund:{row.id}",
        details={"rail_refund_id": row.id, "rail_order_id": row.order_id, "rail": row.rail,
                 "minor": row.amount_minor, "status": row.status, "hold_id": row.hold_id,
                 "entry_id": row.entry_id, "why": why[:200]},
    )  # fmt: skip


async def record_refund(
    *, session: AsyncSession, order: RailOrder, amount: Money, staff_email: str, remarks: str, actor: str
) -> RailRefund:
    """Before the provider is asked, in the caller's transaction (the caller holds the order's row
    lock and commits): the refund as pending, and its amount held on the customer's wallet (one hold
    per refund, never expiring) so it cannot be spent while the outcome is open. Raises RefundTooLarge,
    RefundInProgress (another refund of the order is open) or the ledger's InsufficientFunds."""
    check_refund(order, amount)
    if await open_refund(session=session, order_id=order.id) is not None:
        raise RefundInProgress(f"a refund of order {order.id} is open")
    now = clock_of(session).now()
    row = RailRefund(
        order_id=order.id, rail=order.rail, amount_minor=amount.minor,
        refunded_before_minor=order.refunded_minor, status=RefundStatus.PENDING.value,
        open_order_id=order.id, staff_email=staff_email[:254], remarks=remarks[:100], outcome="",
        checks=0, created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:  # another refund of the order opened meanwhile
        raise RefundInProgress(f"a refund of order {order.id} is open") from exc
    hold = await ledger.place_hold(
        session=session, idempotency_key=f"rail:{order.rail}:refund-hold:{row.id}",
        account_id=order.account_id, amount=amount, memo=f"{order.rail} refund {order.confirmation}",
        details={"rail_refund_id": row.id, "rail_order_id": order.id},
    )  # fmt: skip
    row.hold_id = hold.hold_id
    await _audit(session, actor, row, "pending")
    return row


def _close(row: RailRefund, status: RefundStatus, outcome: str, now: datetime) -> None:
    row.status, row.open_order_id, row.outcome = status.value, None, outcome[:255]
    row.updated_at = row.resolved_at = now


async def settle_made(*, session: AsyncSession, refund_id: int, outcome: str, actor: str) -> bool:
    """The provider made the refund: the hold posted to the rail's clearing account under the
    order's refund key, the order's refunded total moved, in the caller's transaction. True when
    booked now; False when the refund was no longer open (settled before: nothing changes)."""
    order = await _order(session, (await get_refund(session=session, refund_id=refund_id)).order_id)
    row = await get_refund(session=session, refund_id=refund_id, lock=True)  # the order's lock first
    if row.status not in OPEN_REFUND:
        return False
    through = row.refunded_before_minor + row.amount_minor
    if order.refunded_minor != row.refunded_before_minor:  # booked past a refund this one never saw
        raise RailOrderConflict(
            f"order {order.id} holds {order.refunded_minor} minor units refunded, refund {row.id} saw "
            f"{row.refunded_before_minor}"
        )
    assert row.hold_id is not None
    amount = Money.from_minor(row.amount_minor, Asset.KES)
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    entry = await ledger.post_hold(
        session=session, hold_id=row.hold_id, postings=[PostingRequest(clearing.id, amount)],
        idempotency_key=refund_key(order, through), kind=f"{order.rail}_refund",
        memo=f"{order.rail} refund {order.confirmation}",
        details={"rail_order_id": order.id, "staff": row.staff_email, "refunded_through_minor": through,
                 "rail_refund_id": row.id},
    )  # fmt: skip
    now = clock_of(session).now()
    order.refunded_minor, order.updated_at = through, now
    row.entry_id = entry.entry_id
    _close(row, RefundStatus.REFUNDED, outcome, now)
    await _audit(session, actor, row, "refunded", outcome)
    return True


async def release(
    *, session: AsyncSession, refund_id: int, status: RefundStatus, outcome: str, actor: str
) -> bool:
    """The provider refused it, or two staff found it was never made (refund_release): the hold voided
    (the money spendable again), in the caller's transaction. False when it was no longer open."""
    await _order(session, (await get_refund(session=session, refund_id=refund_id)).order_id)
    row = await get_refund(session=session, refund_id=refund_id, lock=True)
    if row.status not in OPEN_REFUND:
        return False
    if row.hold_id is not None:
        await ledger.void_hold(session=session, hold_id=row.hold_id, reason=f"rail refund {status.value}")
    _close(row, status, outcome, clock_of(session).now())
    await _audit(session, actor, row, status.value, outcome)
    return True


async def stage_case(*, session: AsyncSession, kind: str, order_id: int, refund_id: int = 0) -> None:
    """A staff alert (and, but for a long unknown, a case) once per kind and subject, after commit."""
    subject = f"refund:{refund_id}" if refund_id else f"order:{order_id}"
    await outbox.enqueue(
        session=session, job=CASE_JOB, kwargs={"kind": kind, "order_id": order_id, "refund_id": refund_id},
        dedupe_key=f"rail-refund-case:{kind}:{subject}", queue="default",
    )  # fmt: skip


def late_key(order: RailOrder, row: RailRefund) -> str:
    """The ledger key of a refund booked after its hold was released (one per refund: the order's
    refunded total may have moved since, so refund_key's total does not name it)."""
    return f"rail:{order.rail}:{order.merchant_reference}:refund-late:{row.id}"


async def settle_made_late(*, session: AsyncSession, refund_id: int, outcome: str, actor: str) -> bool:
    """The provider made a refund we had released (not_refunded): it is booked now, once, in the
    caller's transaction. The hold is gone and the customer may have spent the money: the wallet is
    debited as far as its available balance goes and the rest is owed (suspense), with a staff case.
    True when booked now; False when the refund was not a released one (open, booked or refused)."""
    order = await _order(session, (await get_refund(session=session, refund_id=refund_id)).order_id)
    row = await get_refund(session=session, refund_id=refund_id, lock=True)
    if row.status != RefundStatus.NOT_REFUNDED.value:
        return False
    amount = Money.from_minor(row.amount_minor, Asset.KES)
    postings, owed = await take_back_postings(session, order.account_id, amount)
    entry = await ledger.post_entry(
        session=session, idempotency_key=late_key(order, row), kind=f"{order.rail}_refund", postings=postings,
        memo=f"{order.rail} refund {order.confirmation} (made after release)"[:200],
        details={"rail_order_id": order.id, "rail_refund_id": row.id, "staff": row.staff_email,
                 "taken_minor": (amount - owed).minor, "owed_minor": owed.minor},
    )  # fmt: skip
    now = clock_of(session).now()
    # what the provider gave back counts against what may still be refunded (never above what was paid)
    order.refunded_minor = min(order.amount_minor, order.refunded_minor + row.amount_minor)
    order.updated_at = now
    row.entry_id = entry.entry_id
    status = RefundStatus.REFUNDED_SHORT if owed.is_positive() else RefundStatus.REFUNDED_LATE
    said = f"{outcome}; KES {owed.amount} not covered by the wallet (owed)" if owed.is_positive() else outcome
    _close(row, status, said, now)
    await _audit(session, actor, row, status.value, said)
    if owed.is_positive():
        await stage_case(session=session, kind=CASE_SHORT, order_id=order.id, refund_id=row.id)
    return True


async def released_orders(
    *, session: AsyncSession, since: datetime, after_order_id: int = 0, limit: int = 500
) -> list[RailOrder]:
    """Completed orders with a refund released as not made (not_refunded) since `since`, by id after
    `after_order_id` (one page; the caller pages on): PesaPal may still make such a refund (a merchant
    approving it late), and only its status says so (core.rails.jobs.watch_reversals)."""
    released = select(RailRefund.order_id).where(
        RailRefund.status == RefundStatus.NOT_REFUNDED.value, RailRefund.resolved_at >= since
    )
    query = (
        select(RailOrder)
        .where(
            RailOrder.id.in_(released),
            RailOrder.id > after_order_id,
            RailOrder.status == OrderStatus.COMPLETED.value,
        )
        .order_by(RailOrder.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def released_refund(*, session: AsyncSession, order_id: int) -> RailRefund | None:
    """The order's latest refund released as not made (not_refunded), if any."""
    query = (
        select(RailRefund)
        .where(RailRefund.order_id == order_id, RailRefund.status == RefundStatus.NOT_REFUNDED.value)
        .order_by(RailRefund.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def mark_unknown(*, session: AsyncSession, refund_id: int, outcome: str, actor: str) -> bool:
    """No readable answer (to the request or to a status query): the refund stays open and held; a
    status query settles it. One PesaPal accepted stays accepted (only its outcome text changes)."""
    row = await get_refund(session=session, refund_id=refund_id, lock=True)
    if row.status not in OPEN_REFUND:
        return False
    if row.status == RefundStatus.ACCEPTED.value:
        row.outcome = outcome[:255]
        row.updated_at = clock_of(session).now()
        return True
    changed = row.status != RefundStatus.UNKNOWN.value
    row.status, row.outcome = RefundStatus.UNKNOWN.value, outcome[:255]
    row.updated_at = clock_of(session).now()
    if changed:
        await _audit(session, actor, row, "unknown", outcome)
    return True


async def mark_accepted(*, session: AsyncSession, refund_id: int, outcome: str, actor: str) -> bool:
    """The provider accepted the request (PesaPal: HTTP 200, status "200"): not made yet, it awaits
    the merchant's approval on PesaPal's dashboard. The refund stays open and held, nothing is
    booked (settle_made does, once the status shows it made). False when it was no longer open
    (released by two staff meanwhile: the caller says so to staff)."""
    row = await get_refund(session=session, refund_id=refund_id, lock=True)
    if row.status not in OPEN_REFUND:
        return False
    changed = row.status != RefundStatus.ACCEPTED.value
    row.status, row.outcome = RefundStatus.ACCEPTED.value, outcome[:255]
    row.updated_at = clock_of(session).now()
    if changed:
        await _audit(session, actor, row, "accepted", outcome)
    return True


async def _order(session: AsyncSession, order_id: int) -> RailOrder:
    query = select(RailOrder).where(RailOrder.id == order_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    order = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if order is None:
        raise UnknownRailOrder(f"no rail order {order_id}")
    return order
