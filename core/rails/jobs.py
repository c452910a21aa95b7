"""Jobs of the collection rails (module-level, ids in, idempotent), run through the outbox.

submit_order: send the order to its rail, then text the customer the short payment link.
confirm_order: ask the rail for the order's status (never trusting a notification), apply it; a
    completed buy executes the quote locked when the customer accepted it and texts the receipt.
reconcile_rail_orders (periodic): orders left open are submitted or queried again; an order
    nobody paid within ORDER_TTL is cancelled with the provider.
reconcile_refunds (periodic): each open refund (unknown, accepted by PesaPal and awaiting the
    merchant's approval on its dashboard, or whose sender died) gets check_refund: the provider's
    status books it when it shows it made (REVERSED); a COMPLETED status leaves it open and held
    (it may await the merchant's approval), escalated once to staff when open too long: long
    unknown, or accepted and still not approved (core.rails.refund_requests.check_status).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import runtime, telemetry
from core.clock import FixedClock, clock_of
from core.flows import accounts, trading
from core.flows.errors import ServiceUnavailable
from core.flows.service import CoreFlows
from core.identity import service as identity
from core.inbound import service as inbound
from core.money import Asset, Money, format_money
from core.outbox import service as outbox
from core.ports import CollectionRail
from core.quotes import service as quotes
from core.rails import invoices, refund_requests, refunds, service
from core.rails.errors import RailRefused
from core.rails.models import OPEN_ORDER, OrderStatus, RailOrder, RailRefund

log = logging.getLogger(__name__)
JOB_QUEUES = {
    "core.rails.jobs.reconcile_rail_orders": service.QUEUE,
    "core.rails.jobs.watch_reversals": service.QUEUE,
    "core.rails.jobs.reconcile_refunds": service.QUEUE,
}
CHECK_REFUND_JOB = "core.rails.jobs.check_refund"
ORDER_TTL = timedelta(hours=1)  # an unpaid link is cancelled after this
RECHECK_AFTER = timedelta(minutes=2)  # an open order untouched this long is asked about again
# An open refund this old, or asked about this many times, is raised to staff once (still checked).
LONG_UNKNOWN_AGE = timedelta(minutes=30)
LONG_UNKNOWN_CHECKS = 10
# A refund PesaPal accepted and the merchant has not approved on PesaPal's dashboard this long (not
# made, the amount held) is raised to staff once: approve it there, or release it by two people.
AWAITING_APPROVAL_AGE = timedelta(minutes=30)
REVERSAL_WATCH = timedelta(days=14)  # completed orders are asked about daily this long (chargebacks)
RELEASED_WATCH = refunds.RELEASED_WATCH  # released refunds' orders are asked about daily this long
WATCH_PAGE = 500  # orders read per page by the watch (keyset by id: every one is reached)
METHOD_NAMES = {"AirtelKE": "Airtel Money", "MpesaKE": "M-Pesa", "TKashKE": "T-Kash"}  # PesaPal's names


def _rail(rt: runtime.Runtime, order: RailOrder) -> CollectionRail:
    rail = rt.collection_rails.get(order.rail)
    if rail is None:
        raise ServiceUnavailable(f"collection rail {order.rail!r} is not wired")
    return rail


def payment_link(rt: runtime.Runtime, order: RailOrder) -> str:
    return rt.settings.pesapal_public_base_url.rstrip("/") + trading.payment_link_path(order.link_code)


async def submit_order(order_id: int) -> str:
    """Returns "submitted", "refused" or "skipped" (already submitted or settled). A refusal of a
    repeated submit is not a failure (the first may have reached PesaPal): flagged for staff."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        claimed = await service.claim_for_submit(session=session, order_id=order_id)
        await session.commit()
        if claimed is None:
            return "skipped"
        order, repeated = claimed
        rail = _rail(rt, order)
        amount = Money.from_minor(order.amount_minor, Asset.KES)
        reference, phone = order.merchant_reference, order.phone
    try:
        started = await rail.start_collection(
            reference=reference, phone=phone, amount=amount, description=f"Kibeti {reference}"
        )
    except RailRefused as exc:
        async with rt.session_factory() as session:
            failed = await service.refuse_submit(
                session=session, order_id=order_id, reason=f"refused: {exc}", repeated=repeated
            )
            await session.commit()
        if failed and order.purpose in CUSTOMER_PURPOSES:
            await _tell(rt, order, "sms.link_buy_failed", f"rail:{order_id}:failed")
        return "refused"
    async with rt.session_factory() as session:
        order = await service.mark_submitted(
            session=session, order_id=order_id, tracking_id=started.provider_reference,
            redirect_url=started.redirect_url,
        )  # fmt: skip
        await session.commit()
    if order.purpose in CUSTOMER_PURPOSES:  # an invoice's payer is waiting on /p/<code> in a browser
        await _tell(
            rt, order, "sms.pay_link", f"rail:{order_id}:link", link=payment_link(rt, order),
            minutes=str(int(ORDER_TTL.total_seconds() // 60)),
        )  # fmt: skip
    return "submitted"


async def _tell(rt: runtime.Runtime, order: RailOrder, code: str, reference: str, **values: str) -> None:
    async with rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=order.customer_id)
    amount = format_money(Money.from_minor(order.amount_minor, Asset.KES), customer.language)
    await CoreFlows(rt).notify(
        phone=customer.phone,
        code=code,
        language=customer.language,
        reference=reference,
        amount=amount,
        **values,
    )


@dataclass(frozen=True)
class Notice:
    """An SMS to send once the crediting transaction is committed."""

    phone: str
    language: str
    code: str
    values: dict[str, str]


async def confirm_order(order_id: int) -> str:
    """Ask the rail; apply its answer. Returns the outcome (completed, failed, pending, flagged, ...)."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        order = await service.get_order(session=session, order_id=order_id)
        if order.tracking_id is None or order.status == OrderStatus.REVERSED.value:
            return "skipped"
        rail, tracking_id = _rail(rt, order), order.tracking_id
    result = await rail.collection_status(provider_reference=tracking_id)
    notice = None
    async with rt.session_factory() as session:
        applied = await service.apply_result(session=session, order_id=order_id, result=result)
        order = applied.order
        if applied.outcome == "completed":  # in the crediting transaction: the purpose's own step
            notice = await COMPLETERS[order.purpose](session, order)
        expired = applied.outcome == "pending" and clock_of(session).now() - order.created_at > ORDER_TTL
        await session.commit()
    if expired and await rail.cancel_collection(provider_reference=tracking_id):
        async with rt.session_factory() as session:
            changed = await service.fail_order(session=session, order_id=order_id, reason="not paid in time")
            await session.commit()
        applied = service.Applied("failed" if changed else "ignored", order)
    told = {"failed": "sms.link_buy_failed", "reversed": "sms.link_reversed"}.get(applied.outcome)
    if told is not None and order.purpose in CUSTOMER_PURPOSES:
        async with rt.session_factory() as session:
            customer = await identity.get_customer(session=session, customer_id=order.customer_id)
        amount = format_money(Money.from_minor(order.amount_minor, Asset.KES), customer.language)
        notice = Notice(customer.phone, customer.language, told, {"amount": amount, **_paid_by(order)})
    if applied.outcome in ("completed", "failed", "flagged", "reversed"):
        telemetry.count("rail.order", rail=order.rail, outcome=applied.outcome)
    if notice is not None:
        await CoreFlows(rt).notify(
            phone=notice.phone, code=notice.code, language=notice.language,
            reference=f"rail:{order_id}:{applied.outcome}", **notice.values,
        )  # fmt: skip
    return applied.outcome


def _paid_by(order: RailOrder) -> dict[str, str]:
    method = METHOD_NAMES.get(order.method, order.method or "PesaPal")
    return {"ref": order.confirmation or order.merchant_reference, "method": method}


async def _completed_buy(session: AsyncSession, order: RailOrder) -> Notice:
    """The KES is in the wallet: execute the quote locked when the customer accepted it."""
    assert order.quote_id is not None and order.accepted_at is not None
    customer = await identity.get_customer(session=session, customer_id=order.customer_id)
    row = await quotes.get_quote(session=session, quote_id=order.quote_id)
    asset = Asset(row.asset)
    await quotes.execute_quote(
        session=session,
        quote_id=order.quote_id,
        pay_account_id=order.account_id,
        receive_account_id=await accounts.wallet_account_id(session, customer.id, asset),
        idempotency_key=f"{order.idempotency_key}:execute",
        clock=FixedClock(order.accepted_at),
    )
    got = trading.on_network(Money.from_minor(row.receive_minor, asset), customer.language)
    return Notice(
        customer.phone, customer.language, "sms.link_buy_receipt", {"amount": got, **_paid_by(order)}
    )


async def _completed_topup(session: AsyncSession, order: RailOrder) -> Notice:
    """KES a customer added to their wallet: it meets the compliance gate as every top-up does
    (over a limit it is held, not refused)."""
    customer = await identity.get_customer(session=session, customer_id=order.customer_id)
    await inbound.credit_arrived(
        session=session, customer_id=customer.id, account_id=order.account_id,
        amount=Money.from_minor(order.amount_minor, Asset.KES), kind=inbound.TOPUP, counterparty=order.phone,
        reference=f"rail:{order.rail}:{order.merchant_reference}",
    )  # fmt: skip
    amount = format_money(Money.from_minor(order.amount_minor, Asset.KES), customer.language)
    return Notice(
        customer.phone, customer.language, "sms.link_credited", {"amount": amount, **_paid_by(order)}
    )


async def _completed_invoice(session: AsyncSession, order: RailOrder) -> None:
    """A merchant invoice paid by card or Airtel Money: the invoice records the payment (its payer
    need not be a customer; the merchant hears through the invoice's own notices)."""
    await invoices.order_paid(session=session, order=order, now=clock_of(session).now())


Completer = Callable[[AsyncSession, RailOrder], Awaitable[Notice | None]]
COMPLETERS: dict[str, Completer] = {
    "buy": _completed_buy,
    "topup": _completed_topup,
    "invoice": _completed_invoice,
}
CUSTOMER_PURPOSES = ("buy", "topup")  # told by SMS when the payment fails


async def reconcile_rail_orders() -> int:
    """Orders left open: submit again (never submitted) or ask the rail again. Returns how many."""
    rt = runtime.get()
    now = rt.clock.now()
    slot = int(now.timestamp() // RECHECK_AFTER.total_seconds())
    staged = 0
    async with rt.session_factory() as session:
        for order in await service.open_orders(session=session, older_than=now - RECHECK_AFTER):
            if order.status not in OPEN_ORDER:
                continue
            if order.tracking_id is None:
                await outbox.enqueue(
                    session=session, job=service.SUBMIT_JOB, kwargs={"order_id": order.id},
                    dedupe_key=f"rail-submit:{order.id}:r{slot}", queue=service.QUEUE,
                )  # fmt: skip
            else:
                await service.stage_confirm(session=session, order=order, tag=f"r{slot}")
            staged += 1
        await session.commit()
    return staged


async def watch_reversals() -> int:
    """Once a day per order, ask PesaPal's status again (the IPN may never come): every completed
    order changed within REVERSAL_WATCH, so a reversal (a card chargeback) is still taken back; and
    every completed order with a refund two staff released within RELEASED_WATCH, so one PesaPal
    makes after all (Reversed) is booked once. Pages through the orders by id (every one is reached,
    however many). Returns how many orders were asked about (a status query staged once per day)."""
    rt = runtime.get()
    now = rt.clock.now()
    day = int(now.timestamp() // 86_400)
    asked: set[int] = set()
    pages: list[Callable[[AsyncSession, int], Awaitable[list[RailOrder]]]] = [
        lambda session, after: service.recently_completed(
            session=session, since=now - REVERSAL_WATCH, after_id=after, limit=WATCH_PAGE
        ),
        lambda session, after: refunds.released_orders(
            session=session, since=now - RELEASED_WATCH, after_order_id=after, limit=WATCH_PAGE
        ),
    ]
    for page in pages:
        after = 0
        while True:
            async with rt.session_factory() as session:
                orders = await page(session, after)
                for order in orders:
                    if order.id not in asked:
                        await service.stage_confirm(session=session, order=order, tag=f"watch{day}")
                        asked.add(order.id)
                await session.commit()
            if len(orders) < WATCH_PAGE:
                break
            after = orders[-1].id
    return len(asked)


async def reconcile_refunds() -> int:
    """Stage a status check for every open refund not on the wire (unknown, accepted, or pending
    past refunds.IN_FLIGHT), once per RECHECK_AFTER slot; one unknown past LONG_UNKNOWN_AGE or
    LONG_UNKNOWN_CHECKS, or accepted and not approved past AWAITING_APPROVAL_AGE, also raises one
    staff alert (staged once per refund and kind). Returns how many checks were staged."""
    rt = runtime.get()
    now = rt.clock.now()
    slot = int(now.timestamp() // RECHECK_AFTER.total_seconds())
    staged = 0
    async with rt.session_factory() as session:
        for row in await refunds.open_refunds(session=session):
            if row.status == refunds.RefundStatus.PENDING.value and now - row.updated_at < refunds.IN_FLIGHT:
                continue
            kind = _escalation(row, now - row.created_at)
            if kind:
                await refunds.stage_case(session=session, kind=kind, order_id=row.order_id, refund_id=row.id)
            await outbox.enqueue(
                session=session, job=CHECK_REFUND_JOB, kwargs={"refund_id": row.id},
                dedupe_key=f"rail-refund-check:{row.id}:r{slot}", queue=service.QUEUE,
            )  # fmt: skip
            staged += 1
        await session.commit()
    return staged


def _escalation(row: RailRefund, age: timedelta) -> str:
    """The staff alert an open refund is due ("" for none yet)."""
    if row.status == refunds.RefundStatus.ACCEPTED.value:
        return refunds.CASE_AWAITING_APPROVAL if age >= AWAITING_APPROVAL_AGE else ""
    if age >= LONG_UNKNOWN_AGE or row.checks >= LONG_UNKNOWN_CHECKS:
        return refunds.CASE_LONG_UNKNOWN
    return ""


async def check_refund(refund_id: int) -> str:
    """Ask the rail's status about one open refund; returns the refund's status after."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id)
        rail = rt.collection_rails.get(row.rail)
    if rail is None:
        raise ServiceUnavailable(f"collection rail {row.rail!r} is not wired")
    outcome = await refund_requests.check_status(factory=rt.session_factory, rail=rail, refund_id=refund_id)
    if outcome.status not in refunds.OPEN_REFUND:  # settled: booked, released, ...
        telemetry.count("rail.refund", rail=row.rail, outcome=outcome.status)
    return outcome.status
