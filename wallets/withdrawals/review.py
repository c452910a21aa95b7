"""A withdrawal the compliance gate sent to review waits, its money held, in status `review`
(wallets.withdrawals.lifecycle) until staff decide (compliance.reviews stages this job with the
decision): approved, it goes to the signer like any held withdrawal; declined or expired, its hold
is voided (compliance already did, with the decision) and it fails. The customer's SMS is staged
with the decision. A rerun after a crash finds the withdrawal decided and does nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import runtime
from core.clock import clock_of
from core.ledger import service as ledger
from core.outbox import service as outbox
from wallets.gateway import SEND_JOB, SIGNER_QUEUE
from wallets.models import Withdrawal
from wallets.withdrawals.lifecycle import FAILED, HELD, REVIEW

DECLINED = "declined by compliance review"


async def settle_review(*, session: AsyncSession, request_key: str, approved: bool) -> str:
    """Send (approved) or close (declined) the withdrawal held for review; its status after."""
    locked = select(Withdrawal).where(Withdrawal.request_key == request_key).with_for_update()
    row = (await session.execute(locked)).scalar_one_or_none()
    if row is None:
        return "missing"
    if row.status != REVIEW:
        return row.status
    if approved:
        row.status = HELD
        await outbox.enqueue(
            session=session,
            job=SEND_JOB,
            kwargs={"withdrawal_id": row.id},
            dedupe_key=f"withdrawal-send:{request_key}",
            queue=SIGNER_QUEUE,
        )
    else:
        await ledger.void_hold(session=session, hold_id=int(row.hold_id), reason=DECLINED)
        row.status, row.error = FAILED, DECLINED
    row.updated_at = clock_of(session).now()
    return row.status


async def review_decided(request_key: str, approved: bool) -> str:
    """The outbox job compliance.reviews stages with a staff decision (or an expiry)."""
    async with runtime.get().session_factory() as session, session.begin():
        return await settle_review(session=session, request_key=request_key, approved=approved)


__all__ = ["review_decided", "settle_review"]
