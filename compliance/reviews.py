"""Review outcomes: a movement the gate held (decision `review`) is released or refused by staff,
or expires when nobody decides in time; the customer gets an SMS either way.

Inbound money (a deposit, top-up or received send over a limit) sits in the wallet under a ledger
hold (`gate.hold_key`): release voids the hold (spendable), refusal posts it to suspense, where
finance refunds it (never lost). An outbound request (a large buy on a new account) never moved
money: approval lets the same request through once when the customer tries again (within a day),
refusal and expiry end it. Dismissing an alert releases what it held (`cases.dismiss_alert`).

A crypto withdrawal under review is held like any withdrawal (its reference, `withdrawal:<key>`,
is its ledger hold's key) and waits in the wallets package: approval sends it (the
`WITHDRAWAL_DECIDED_JOB`, staged here), refusal and expiry void the hold in the same transaction
as the decision and its SMS, then the job marks the withdrawal failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import audit_trail, notices
from compliance.errors import MovementNotFound, MovementNotHeld
from compliance.models import Movement, MovementKind
from compliance.rules import ARRIVING_KINDS
from core.ledger import queries as ledger_queries
from core.ledger import service as ledger
from core.ledger.types import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox import service as outbox
from core.ports import Decision

APPROVED = "review_approved"
APPROVED_USED = "review_approved_used"
REFUSED = "review_refused"
EXPIRED = "review_expired"
RETRY_WINDOW = timedelta(days=1)
REFUSED_ENTRY_KIND = "compliance_refused"
# wallets.withdrawals.lifecycle: a withdrawal under review is held; its reference is its hold's key
HELD_WITHDRAWAL_PREFIX = "withdrawal:"
WITHDRAWAL_DECIDED_JOB = "wallets.withdrawals.review.review_decided"


def hold_key(movement_id: int) -> str:
    """The ledger hold that keeps an inbound movement's money until its review is decided."""
    return f"compliance-hold:{movement_id}"


async def held_movement(*, session: AsyncSession, movement_id: int) -> Movement:
    locked = select(Movement).where(Movement.id == movement_id).with_for_update()
    movement = (await session.execute(locked)).scalar_one_or_none()
    if movement is None:
        raise MovementNotFound(f"no movement {movement_id}")
    if movement.decision != Decision.REVIEW.value:
        raise MovementNotHeld(f"movement {movement_id} is not waiting for review ({movement.decision})")
    return movement


async def decide(
    *, session: AsyncSession, movement_id: int, approve: bool, actor: str, now: datetime, note: str = ""
) -> Movement:
    """Staff decision on a held movement: release (approve) or refuse, with an SMS either way."""
    movement = await held_movement(session=session, movement_id=movement_id)
    await _resolve(session, movement, APPROVED if approve else REFUSED, actor, now, note)
    return movement


async def expire(*, session: AsyncSession, older_than: timedelta, now: datetime, limit: int = 500) -> int:
    """Refuse every review nobody decided within `older_than` (the customer is told). Returns how many."""
    due = select(Movement).where(
        Movement.decision == Decision.REVIEW.value, Movement.created_at < now - older_than
    )
    rows = list((await session.execute(due.order_by(Movement.id).limit(limit).with_for_update())).scalars())
    for movement in rows:
        await _resolve(session, movement, EXPIRED, "system", now, "")
    return len(rows)


async def release_for_alert(
    *, session: AsyncSession, movement_ids: list[int], actor: str, now: datetime
) -> int:
    """An alert dismissed: what it held is released (movements already decided are left alone)."""
    released = 0
    for movement_id in movement_ids:
        locked = select(Movement).where(Movement.id == movement_id).with_for_update()
        movement = (await session.execute(locked)).scalar_one_or_none()
        if movement is not None and movement.decision == Decision.REVIEW.value:
            await _resolve(session, movement, APPROVED, actor, now, "alert dismissed")
            released += 1
    return released


async def use_approval(
    *, session: AsyncSession, customer_id: int, kind: str, amount_kes: int, counterparty: str, now: datetime
) -> bool:
    """True (once) when staff approved this same outbound request recently: the retry goes through."""
    statement = (
        select(Movement)
        .where(
            Movement.customer_id == customer_id,
            Movement.kind == kind,
            Movement.amount_kes == amount_kes,
            Movement.counterparty == counterparty[:128],
            Movement.reason_code == APPROVED,
            Movement.created_at >= now - RETRY_WINDOW,
        )
        .order_by(Movement.id)
        .limit(1)
        .with_for_update()
    )
    approved = (await session.execute(statement)).scalar_one_or_none()
    if approved is None:
        return False
    approved.reason_code = APPROVED_USED
    return True


async def _resolve(
    session: AsyncSession, movement: Movement, outcome: str, actor: str, now: datetime, note: str
) -> None:
    inbound = movement.kind in ARRIVING_KINDS
    held_withdrawal = is_held_withdrawal(movement)
    amount = Money.from_minor(movement.amount_minor, Asset(movement.asset))
    if inbound:
        await _settle_hold(session, movement, amount, release=outcome == APPROVED, now=now)
    if held_withdrawal:
        await _decide_withdrawal(session, movement, approved=outcome == APPROVED, now=now)
    movement.decision = Decision.ALLOW.value if outcome == APPROVED else Decision.DENY.value
    movement.reason_code = outcome
    if held_withdrawal and outcome == APPROVED:  # spent on this withdrawal: no retry rides on it
        movement.reason_code = APPROVED_USED
    await audit_trail.record(
        session=session,
        actor=actor,
        action=f"movement.{outcome}",
        subject=f"movement:{movement.id}",
        now=now,
        details={"customer_id": movement.customer_id, "kind": movement.kind, "has_note": bool(note)},
    )
    direction = "inbound" if inbound else "withdrawal" if held_withdrawal else "request"
    short = outcome.removeprefix("review_")
    if movement.kind == "buy":  # the customer asked to pay this many shillings
        amount = Money.from_minor(movement.amount_kes, Asset.KES)
    await notices.stage(
        session=session,
        customer_id=movement.customer_id,
        code=f"compliance.sms.{direction}_{short}",
        reference=f"review:{movement.id}",
        values={"amount": notices.money_value(amount)},
    )


async def _settle_hold(
    session: AsyncSession, movement: Movement, amount: Money, *, release: bool, now: datetime
) -> None:
    hold_id = await ledger_queries.pending_hold_id(session=session, idempotency_key=hold_key(movement.id))
    if hold_id is None:
        return  # nothing held (a gate from before holds existed) or already settled
    if release:
        await ledger.void_hold(session=session, hold_id=hold_id, reason="compliance review released", now=now)
        return
    suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=amount.asset)
    await ledger.post_hold(
        session=session,
        hold_id=hold_id,
        postings=[PostingRequest(suspense.id, amount)],
        idempotency_key=f"compliance-refused:{movement.id}",
        kind=REFUSED_ENTRY_KIND,
        memo=f"refused by compliance review: movement {movement.id}; refund from suspense",
        details={"movement_id": movement.id, "customer_id": movement.customer_id},
        now=now,
    )


def is_held_withdrawal(movement: Movement) -> bool:
    """A crypto withdrawal whose money is held while it waits for review (not refused outright)."""
    return movement.kind == MovementKind.WITHDRAW.value and movement.reference.startswith(
        HELD_WITHDRAWAL_PREFIX
    )


async def _decide_withdrawal(
    session: AsyncSession, movement: Movement, *, approved: bool, now: datetime
) -> None:
    """Refused: the hold is voided here, with the decision and its SMS (the money is back when the
    customer reads it). Either way the wallets package is told, once, to send or to close it."""
    if not approved:
        hold_id = await ledger_queries.pending_hold_id(session=session, idempotency_key=movement.reference)
        if hold_id is not None:
            await ledger.void_hold(
                session=session, hold_id=hold_id, reason=f"compliance review: movement {movement.id}", now=now
            )
    await outbox.enqueue(
        session=session,
        job=WITHDRAWAL_DECIDED_JOB,
        kwargs={"request_key": movement.reference.removeprefix(HELD_WITHDRAWAL_PREFIX), "approved": approved},
        dedupe_key=f"withdrawal-review:{movement.id}",
    )
