"""Staff retry a failed payout under maker-checker: one staff member proposes it, a different one
with payouts.approve approves it, and only then is a NEW payout staged through the ordinary pipeline
(`service.create_payout`: hold, row, outbox job). Its idempotency key is derived from the retry
request, and a failed payout has at most one request, so a retry is sent at most once however often
(or however concurrently) it is approved. The failed payout gave its funds back to the wallet; the
retry holds them again (no second fee) and fails cleanly if the customer has spent them meanwhile.
Keyword-only; the caller commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock
from core.money import Asset, Money
from core.payments import service
from core.payments.errors import (
    PayoutNotRetryable,
    PayoutRetryNotFound,
    PayoutRetryNotPending,
    PayoutRetrySamePerson,
)
from core.payments.models import Payout, PayoutRetry, PayoutRetryStatus, PayoutStatus


def retry_key(request: PayoutRetry) -> str:
    return f"payout-retry:{request.id}"


def _retryable(payout: Payout) -> None:
    if payout.status != PayoutStatus.FAILED.value:
        raise PayoutNotRetryable(f"payout {payout.id} is {payout.status}; only a failed payout is retried")
    if payout.kind != "b2c" or payout.customer_id is None or payout.merchant_id is not None:
        raise PayoutNotRetryable(f"payout {payout.id} is not a customer's M-Pesa payout")


async def request_for(*, session: AsyncSession, payout_id: str) -> PayoutRetry | None:
    statement = select(PayoutRetry).where(PayoutRetry.payout_id == payout_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def propose(
    *, session: AsyncSession, payout_id: str, maker_id: int, reason: str, clock: Clock
) -> PayoutRetry:
    payout = await service.get_payout(session=session, payout_id=payout_id)
    _retryable(payout)
    if not reason.strip():
        raise PayoutNotRetryable("say why the payout should be sent again")
    if await request_for(session=session, payout_id=payout_id) is not None:
        raise PayoutRetryNotPending(f"payout {payout_id} already has a retry request")
    request = PayoutRetry(
        payout_id=payout_id, status=PayoutRetryStatus.PENDING.value, reason=reason.strip()[:300],
        maker_id=maker_id, created_at=clock.now(),
    )  # fmt: skip
    session.add(request)
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{maker_id}", action="payouts.retry_proposed",
        subject=f"payout:{payout_id}", details={"retry_request": request.id, "reason": request.reason},
        clock=clock,
    )  # fmt: skip
    return request


async def _pending(session: AsyncSession, request_id: int) -> PayoutRetry:
    statement = select(PayoutRetry).where(PayoutRetry.id == request_id).with_for_update()
    request = (
        await session.execute(statement.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if request is None:
        raise PayoutRetryNotFound(f"no payout retry request {request_id}")
    if request.status != PayoutRetryStatus.PENDING.value:
        raise PayoutRetryNotPending(f"payout retry request {request_id} is {request.status}, not pending")
    return request


async def approve(*, session: AsyncSession, request_id: int, checker_id: int, clock: Clock) -> PayoutRetry:
    """A different staff member approves: the new payout (`retry_payout_id`) is staged in this
    transaction."""
    request = await _pending(session, request_id)
    if checker_id == request.maker_id:
        raise PayoutRetrySamePerson("a retry is approved by someone other than the person who asked for it")
    original = await service.get_payout(session=session, payout_id=request.payout_id, lock=True)
    _retryable(original)
    retry = await service.create_payout(
        session=session, idempotency_key=retry_key(request), account_id=original.account_id,
        phone=original.phone, amount=Money.from_minor(original.amount_minor, Asset.KES),
        customer_id=original.customer_id, remarks=original.remarks,
    )  # fmt: skip
    request.status, request.checker_id = PayoutRetryStatus.APPROVED.value, checker_id
    request.retry_payout_id, request.decided_at = retry.id, clock.now()
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{checker_id}", action="payouts.retry_approved",
        subject=f"payout:{original.id}", clock=clock,
        details={"retry_request": request.id, "maker": request.maker_id, "retry_payout": retry.id},
    )  # fmt: skip
    return request


async def reject(*, session: AsyncSession, request_id: int, checker_id: int, clock: Clock) -> PayoutRetry:
    request = await _pending(session, request_id)
    request.status, request.checker_id, request.decided_at = (
        PayoutRetryStatus.REJECTED.value, checker_id, clock.now(),
    )  # fmt: skip
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{checker_id}", action="payouts.retry_rejected",
        subject=f"payout:{request.payout_id}", details={"retry_request": request.id}, clock=clock,
    )  # fmt: skip
    return request
