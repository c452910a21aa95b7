"""Rail orders: written with the use case, submitted by a job, settled only by the provider's own
status query (a notification is a hint), credited once.

`credit_confirmed_collection` is the single crediting call site for these rails, in the style of
core.payments.confirmed: the rail's clearing account to the customer's KES wallet, once per order.
An answer that disagrees with our order (amount, currency, reference) flags it for staff and
credits nothing. A reversal after the credit is a new entry (the wallet as far as it goes, the rest
owed in suspense) and a staff case.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.ledger import service as ledger
from core.ledger.models import AccountKind, EntryResult, PostingRequest
from core.money import Asset, Money
from core.outbox import handlers
from core.outbox import service as outbox
from core.ports import CollectionResult, CollectionState
from core.rails.errors import RailOrderConflict, RefundTooLarge, UnknownRailOrder
from core.rails.models import FINAL_ORDER, OPEN_ORDER, OrderStatus, RailNotice, RailOrder, RailRefund

SUBMIT_JOB = "core.rails.jobs.submit_order"
CONFIRM_JOB = "core.rails.jobs.confirm_order"
# The staff alert and case for a reversal after a credit: a job core names (core.outbox.handlers),
# done by whatever the composition root registers (the web app's, which may import compliance).
REVERSAL_CASE_JOB = handlers.OPEN_REVERSAL_CASE
QUEUE = "payouts"
RESUBMIT_REFUSED = "a repeated submit was refused"
MAX_HINTS = 20  # notifications per order that each trigger a status query


def _locked(session: AsyncSession, query: Select[tuple[RailOrder]]) -> Select[tuple[RailOrder]]:
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return query.execution_options(populate_existing=True)


async def create_order(
    *,
    session: AsyncSession,
    rail: str,
    purpose: str,
    idempotency_key: str,
    customer_id: int,
    account_id: int,
    phone: str,
    amount: Money,
    quote_id: int | None = None,
    accepted_at: datetime | None = None,
) -> RailOrder:
    """Write the order and stage its submit job in the caller's transaction (no commit). The merchant
    reference is ours, random and unique (the table refuses a reused one)."""
    existing = (
        await session.execute(select(RailOrder).where(RailOrder.idempotency_key == idempotency_key))
    ).scalar_one_or_none()
    if existing is not None:
        if (existing.account_id, existing.amount_minor, existing.rail) != (account_id, amount.minor, rail):
            raise RailOrderConflict(f"idempotency key {idempotency_key!r} was used for another order")
        return existing
    now = clock_of(session).now()
    row = RailOrder(
        rail=rail,
        merchant_reference=f"KBT-{secrets.token_hex(8).upper()}",
        idempotency_key=idempotency_key,
        purpose=purpose,
        customer_id=customer_id,
        account_id=account_id,
        phone=phone,
        amount_minor=amount.minor,
        currency=amount.asset.currency,
        quote_id=quote_id,
        accepted_at=accepted_at,
        status=OrderStatus.CREATED.value,
        link_code=secrets.token_urlsafe(6),
        redirect_url="",
        confirmation="",
        method="",
        provider_status="",
        flag_reason="",
        refunded_minor=0,
        hints=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await outbox.enqueue(
        session=session, job=SUBMIT_JOB, kwargs={"order_id": row.id}, dedupe_key=f"rail-submit:{row.id}",
        queue=QUEUE,
    )  # fmt: skip
    return row


async def get_order(*, session: AsyncSession, order_id: int, lock: bool = False) -> RailOrder:
    query = select(RailOrder).where(RailOrder.id == order_id)
    row = (await session.execute(_locked(session, query) if lock else query)).scalar_one_or_none()
    if row is None:
        raise UnknownRailOrder(f"no rail order {order_id}")
    return row


async def order_by_link(*, session: AsyncSession, code: str) -> RailOrder | None:
    query = select(RailOrder).where(RailOrder.link_code == code)
    return (await session.execute(query)).scalar_one_or_none()


async def claim_for_submit(*, session: AsyncSession, order_id: int) -> tuple[RailOrder, bool] | None:
    """created -> submitting; returns the order and whether this is a repeated submit. A `submitting`
    order (a crash mid-call) is submitted again with the same merchant reference."""
    row = await get_order(session=session, order_id=order_id, lock=True)
    if row.status not in (OrderStatus.CREATED.value, OrderStatus.SUBMITTING.value) or row.tracking_id:
        return None
    repeated = row.status == OrderStatus.SUBMITTING.value
    row.status, row.updated_at = OrderStatus.SUBMITTING.value, clock_of(session).now()
    return row, repeated


async def mark_submitted(
    *, session: AsyncSession, order_id: int, tracking_id: str, redirect_url: str
) -> RailOrder:
    row = await get_order(session=session, order_id=order_id, lock=True)
    unsure = row.status == OrderStatus.FLAGGED.value and row.flag_reason.startswith(RESUBMIT_REFUSED)
    row.tracking_id, row.redirect_url = tracking_id, redirect_url[:500]
    if row.status in (OrderStatus.CREATED.value, OrderStatus.SUBMITTING.value) or unsure:
        row.status, row.flag_reason = OrderStatus.PENDING.value, ""  # the first submit did get through
    row.updated_at = clock_of(session).now()
    return row


async def refuse_submit(*, session: AsyncSession, order_id: int, reason: str, repeated: bool) -> bool:
    """The provider refused the order. A first submit: the order failed (True). A repeated one (the
    first may have reached the provider, which refuses a reused reference): unknown, never failed;
    flagged for staff, nothing credited, until the first one's answer arrives (`mark_submitted`)."""
    row = await get_order(session=session, order_id=order_id, lock=True)
    if row.status not in OPEN_ORDER or row.tracking_id:
        return False
    row.updated_at = clock_of(session).now()
    if repeated:
        row.status, row.flag_reason = OrderStatus.FLAGGED.value, f"{RESUBMIT_REFUSED}: {reason}"[:255]
        return False
    row.status, row.flag_reason = OrderStatus.FAILED.value, reason[:255]
    return True


async def fail_order(*, session: AsyncSession, order_id: int, reason: str) -> bool:
    """An open order ends unpaid (refused at submit, cancelled, expired). True if it changed."""
    row = await get_order(session=session, order_id=order_id, lock=True)
    if row.status not in OPEN_ORDER:
        return False
    row.status, row.flag_reason, row.updated_at = (
        OrderStatus.FAILED.value,
        reason[:255],
        clock_of(session).now(),
    )
    return True


async def note_notice(
    *,
    session: AsyncSession,
    rail: str,
    kind: str,
    tracking_id: str,
    merchant_reference: str,
    raw: dict[str, Any],
) -> RailOrder | None:
    """Record a notification (IPN, redirect) and, for an order we made, stage our status query. A
    notification names an order; it never says what happened. Unknown or mismatched: kept, flagged
    (order_id NULL), nothing staged."""
    query = select(RailOrder).where(RailOrder.tracking_id == tracking_id, RailOrder.rail == rail)
    order = (await session.execute(_locked(session, query))).scalar_one_or_none() if tracking_id else None
    if order is not None and order.merchant_reference != merchant_reference:
        order = None
    session.add(
        RailNotice(
            rail=rail, kind=kind[:24], tracking_id=tracking_id[:64],
            merchant_reference=merchant_reference[:64], order_id=order.id if order is not None else None,
            raw=raw, created_at=clock_of(session).now(),
        )
    )  # fmt: skip
    if order is None:
        return None
    order.hints += 1
    # a reversed order has nothing left to learn; past MAX_HINTS (forged floods) the reconciler asks
    if order.status != OrderStatus.REVERSED.value and order.hints <= MAX_HINTS:
        await stage_confirm(session=session, order=order, tag=str(order.hints))
    return order


async def stage_confirm(*, session: AsyncSession, order: RailOrder, tag: str) -> None:
    await outbox.enqueue(
        session=session, job=CONFIRM_JOB, kwargs={"order_id": order.id},
        dedupe_key=f"rail-confirm:{order.id}:{tag}"[:160], queue=QUEUE,
    )  # fmt: skip


async def credit_confirmed_collection(
    *,
    session: AsyncSession,
    idempotency_key: str,
    kind: str,
    account_id: int,
    amount: Money,
    memo: str,
    details: dict[str, Any],
) -> EntryResult:
    """Book KES a rail's own status query confirmed: the rails' clearing account (what the provider
    owes us) to `account_id`, once per idempotency key, in the caller's transaction."""
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    return await ledger.post_entry(
        session=session,
        idempotency_key=idempotency_key,
        kind=kind,
        postings=[PostingRequest(clearing.id, -amount), PostingRequest(account_id, amount)],
        memo=memo[:200],
        details=details,
    )


@dataclass(frozen=True)
class Applied:
    outcome: str  # pending | completed | failed | flagged | reversed | refunded | duplicate | ignored
    order: RailOrder


def _disagreement(order: RailOrder, result: CollectionResult) -> str:
    if result.merchant_reference and result.merchant_reference != order.merchant_reference:
        return f"status names reference {result.merchant_reference[:50]!r}, not ours"
    if result.currency.upper() != order.currency:
        return f"status currency {result.currency[:8]!r} differs from the order's {order.currency}"
    expected = Decimal(order.amount_minor) / 100
    if result.amount is None or result.amount != expected:
        return f"status amount {result.amount} differs from the order's {expected}"
    return ""


async def apply_result(*, session: AsyncSession, order_id: int, result: CollectionResult) -> Applied:
    """Apply what the provider's status query said, in the caller's transaction (no commit)."""
    order = await get_order(session=session, order_id=order_id, lock=True)
    order.provider_status = result.state.value
    state = result.state
    if state is CollectionState.PENDING:
        return Applied("pending" if order.status in OPEN_ORDER else "ignored", order)
    if state is CollectionState.FAILED:
        if order.status in OPEN_ORDER:
            order.status, order.updated_at = OrderStatus.FAILED.value, clock_of(session).now()
            return Applied("failed", order)
        return Applied("ignored", order)
    if state is CollectionState.REVERSED:
        if order.status == OrderStatus.COMPLETED.value and await _refunded_by_us(session, order):
            await _check_remainder(session, order)
            return Applied("refunded", order)  # our refund, booked (or settled) by core.rails.refunds
        if order.status == OrderStatus.COMPLETED.value:
            await _reverse(session, order, result)
            return Applied("reversed", order)
        if order.status in OPEN_ORDER:  # taken back before we ever credited it
            order.status, order.updated_at = OrderStatus.FAILED.value, clock_of(session).now()
            return Applied("failed", order)
        return Applied("duplicate", order)
    if order.status == OrderStatus.FAILED.value:  # paid after all (a retry on PesaPal's page): staff
        order.status, order.updated_at = OrderStatus.FLAGGED.value, clock_of(session).now()
        order.flag_reason = f"PesaPal says COMPLETED after the order failed ({order.flag_reason})"[:255]
        order.confirmation, order.method = result.confirmation[:64], result.method[:32]
        return Applied("flagged", order)
    if order.status not in OPEN_ORDER:
        return Applied("duplicate" if order.status in FINAL_ORDER else "ignored", order)
    problem = _disagreement(order, result)
    order.confirmation, order.method = result.confirmation[:64], result.method[:32]
    order.updated_at = clock_of(session).now()
    if problem:
        order.status, order.flag_reason = OrderStatus.FLAGGED.value, problem[:255]
        return Applied("flagged", order)
    entry = await credit_confirmed_collection(
        session=session,
        idempotency_key=f"rail:{order.rail}:{order.merchant_reference}",
        kind=f"{order.rail}_collection",
        account_id=order.account_id,
        amount=Money.from_minor(order.amount_minor, Asset.KES),
        memo=f"{order.rail} {result.method} {result.confirmation}",
        details={"rail_order_id": order.id, "confirmation": result.confirmation, "method": result.method},
    )
    order.entry_id, order.status = entry.entry_id, OrderStatus.COMPLETED.value
    return Applied("completed", order)


async def _refunded_by_us(session: AsyncSession, order: RailOrder) -> bool:
    """PesaPal reports a refunded payment REVERSED: a refund booked or open is ours, not a
    chargeback (taking the payment back again would debit the customer twice); so is one we released
    as not made (its acceptance came late): it is booked now, once (core.rails.refunds)."""
    from core.rails import refunds  # refunds imports this module

    if order.refunded_minor > 0:
        return True
    query = select(RailRefund.id).where(RailRefund.open_order_id == order.id)
    if (await session.execute(query)).first() is not None:
        return True
    released = await refunds.released_refund(session=session, order_id=order.id)
    if released is None:
        return False
    await refunds.settle_made_late(
        session=session, refund_id=released.id, outcome="PesaPal's status: Reversed (made after release)",
        actor="system:rail-refunds",
    )  # fmt: skip
    return True


async def _check_remainder(session: AsyncSession, order: RailOrder) -> None:
    """REVERSED while less than was paid is refunded (and no refund open): our partial refund, or a
    chargeback of the remainder too; the status cannot say which, so staff are told (once)."""
    from core.rails import refunds

    if order.refunded_minor <= 0 or order.refunded_minor >= order.amount_minor:
        return
    if await refunds.open_refund(session=session, order_id=order.id) is not None:
        return
    await refunds.stage_case(session=session, kind=refunds.CASE_REVERSED_AFTER_PARTIAL, order_id=order.id)


async def take_back_postings(
    session: AsyncSession, account_id: int, amount: Money
) -> tuple[list[PostingRequest], Money]:
    """Legs taking `amount` back into rail clearing from a wallet as far as its available balance goes,
    the rest owed in suspense; and what is owed."""
    available = await ledger.available(session=session, account_id=account_id)
    taken = min(max(available, Money.zero(Asset.KES)), amount)
    owed = amount - taken
    clearing = await ledger.system_account(session=session, kind=AccountKind.RAIL_CLEARING, asset=Asset.KES)
    postings = [PostingRequest(clearing.id, amount)]
    if taken.is_positive():
        postings.append(PostingRequest(account_id, -taken))
    if owed.is_positive():
        suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        postings.append(PostingRequest(suspense.id, -owed))
    return postings, owed


async def _reverse(session: AsyncSession, order: RailOrder, result: CollectionResult) -> None:
    """The provider took a credited payment back: a new entry takes it from the wallet as far as it
    goes; the rest is owed (suspense) until staff recover it through the case."""
    amount = Money.from_minor(order.amount_minor, Asset.KES)
    postings, owed = await take_back_postings(session, order.account_id, amount)
    entry = await ledger.post_entry(
        session=session,
        idempotency_key=f"rail:{order.rail}:{order.merchant_reference}:reversed",
        kind=f"{order.rail}_reversal",
        postings=postings,
        memo=f"{order.rail} reversed {order.confirmation}"[:200],
        details={"rail_order_id": order.id, "taken_minor": (amount - owed).minor, "owed_minor": owed.minor},
    )
    order.reversal_entry_id, order.status = entry.entry_id, OrderStatus.REVERSED.value
    order.flag_reason = f"reversed by the provider after credit; KES {owed.amount} owed"[:255]
    order.updated_at = clock_of(session).now()
    await outbox.enqueue(
        session=session, job=REVERSAL_CASE_JOB, kwargs={"order_id": order.id},
        dedupe_key=f"rail-reversal-case:{order.id}", queue="default",
    )  # fmt: skip


def check_refund(order: RailOrder, amount: Money) -> None:
    """A refund is never above what was paid (less what was already refunded), and only of a
    completed payment."""
    if order.status != OrderStatus.COMPLETED.value:
        raise RefundTooLarge(f"order {order.id} is {order.status}: only a completed payment is refunded")
    if amount.minor <= 0 or amount.minor > order.amount_minor - order.refunded_minor:
        left = Decimal(order.amount_minor - order.refunded_minor) / 100
        raise RefundTooLarge(f"refund {amount.amount} is above the KES {left} left to refund")


async def open_orders(*, session: AsyncSession, older_than: datetime, limit: int = 200) -> list[RailOrder]:
    query = (
        select(RailOrder)
        .where(RailOrder.status.in_(OPEN_ORDER), RailOrder.updated_at < older_than)
        .order_by(RailOrder.updated_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def recently_completed(
    *, session: AsyncSession, since: datetime, after_id: int = 0, limit: int = 500
) -> list[RailOrder]:
    """Completed orders changed since `since` (a chargeback can still reverse them): one page by id,
    those after `after_id`; the caller pages on (keyset) until a page comes back short."""
    query = (
        select(RailOrder)
        .where(
            RailOrder.status == OrderStatus.COMPLETED.value,
            RailOrder.updated_at >= since,
            RailOrder.id > after_id,
        )
        .order_by(RailOrder.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def flagged(*, session: AsyncSession, limit: int = 100) -> tuple[list[RailOrder], list[RailNotice]]:
    """For staff: orders flagged or reversed, and notifications that named no order of ours."""
    orders = await session.execute(
        select(RailOrder)
        .where(RailOrder.status.in_([OrderStatus.FLAGGED.value, OrderStatus.REVERSED.value]))
        .order_by(RailOrder.id.desc())
        .limit(limit)
    )
    notices = await session.execute(
        select(RailNotice).where(RailNotice.order_id.is_(None)).order_by(RailNotice.id.desc()).limit(limit)
    )
    return list(orders.scalars()), list(notices.scalars())
