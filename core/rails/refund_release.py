"""Two staff members release the hold of an open refund (its outcome unknown, or accepted by PesaPal
and never approved on its dashboard), after checking the provider's dashboard: "PesaPal has no such
refund: release the hold", or for an accepted one "declined or never approved there" (maker-checker).
Nothing else releases it: a status that shows no refund may be one waiting for the merchant's
approval.

propose_release: the maker says what the dashboard showed; an audit row (PROPOSED) on the refund,
chained at once. confirm_release: a different staff member confirms; PesaPal's status is asked one
last time (made -> booked once, nothing released), else the hold is voided once (refunds.release,
status not_refunded), audited as the checker with the maker named. A refund PesaPal makes after all
is still booked once when its status shows it (refunds.settle_made_late)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.audit.models import AuditEntry
from core.clock import clock_of
from core.ports import CollectionRail
from core.rails import refund_requests, refunds
from core.rails.errors import (
    RefundInProgress,
    RefundNotOpen,
    RefundReleaseNotProposed,
    RefundReleaseSamePerson,
    RefundStatusUnreadable,
)
from core.rails.models import RailRefund
from core.rails.refunds import IN_FLIGHT, OPEN_REFUND, RefundStatus

PROPOSED = "rail.refund_release_proposed"


@dataclass(frozen=True)
class Proposal:
    refund_id: int
    maker: str  # an actor, "staff:<id>"
    reason: str


def subject(refund_id: int) -> str:
    return f"rail_refund:{refund_id}"


def _releasable(row: RailRefund, session: AsyncSession) -> None:
    if row.status not in OPEN_REFUND:
        raise RefundNotOpen(f"refund {row.id} is {row.status}: there is no hold to release")
    if row.status == RefundStatus.PENDING.value and clock_of(session).now() - row.updated_at < IN_FLIGHT:
        raise RefundInProgress(f"refund {row.id} is being sent to the provider right now: wait a few minutes")


async def proposal_of(*, session: AsyncSession, refund_id: int) -> Proposal | None:
    """The latest release proposed for the refund (waiting for its checker), if any."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.action == PROPOSED, AuditEntry.subject == subject(refund_id))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        return None
    return Proposal(refund_id, row.actor, str((row.details or {}).get("reason", "")))


async def propose_release(*, session: AsyncSession, refund_id: int, maker: str, reason: str) -> Proposal:
    """The maker's proposal, in the caller's transaction (the caller commits). Raises UnknownRailOrder,
    RefundNotOpen or RefundInProgress (being sent right now)."""
    row = await refunds.get_refund(session=session, refund_id=refund_id)
    _releasable(row, session)
    said = " ".join(reason.split())[:200]
    await audit.record(
        session=session, actor=maker, action=PROPOSED, subject=subject(refund_id),
        details={"rail_refund_id": row.id, "rail_order_id": row.order_id, "minor": row.amount_minor,
                 "status": row.status, "reason": said},
    )  # fmt: skip
    return Proposal(refund_id, maker, said)


async def confirm_release(
    *, factory: refund_requests.Factory, rail: CollectionRail, refund_id: int, checker: str
) -> refund_requests.RefundOutcome:
    """A second staff member confirms the release. Raises UnknownRailOrder, RefundReleaseNotProposed,
    RefundReleaseSamePerson, RefundNotOpen, RefundInProgress or RefundStatusUnreadable (PesaPal's
    status answer could not be read: nothing released, the amount stays held; confirm again later).
    Returns the refund's outcome: not_refunded (released now), or refunded (PesaPal's status showed
    it made: booked, nothing released)."""
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=refund_id)
        _releasable(row, session)
        proposal = await proposal_of(session=session, refund_id=refund_id)
    if proposal is None:
        raise RefundReleaseNotProposed(f"no release of refund {refund_id} was proposed: propose it first")
    if proposal.maker == checker:
        raise RefundReleaseSamePerson("a different staff member must confirm the release they proposed")
    checked = await refund_requests.check_status(
        factory=factory, rail=rail, refund_id=refund_id, actor=checker
    )
    if checked.unreadable and checked.status in OPEN_REFUND:  # the last look said nothing: held
        raise RefundStatusUnreadable(checked.message)
    if checked.status not in OPEN_REFUND:
        return checked  # made after all (booked once), or settled meanwhile: nothing to release
    shown = (
        "the accepted refund declined or never approved"
        if checked.status == RefundStatus.ACCEPTED.value
        else "no such refund"
    )
    async with factory() as session:
        released = await refunds.release(
            session=session, refund_id=refund_id, status=RefundStatus.NOT_REFUNDED, actor=checker,
            outcome=f"released by two staff, PesaPal's dashboard showing {shown}: proposed by "
            f"{proposal.maker} ({proposal.reason}), confirmed by {checker}",
        )  # fmt: skip
        if not released:
            raise RefundNotOpen(f"refund {refund_id} was settled meanwhile: there is no hold to release")
        await session.commit()
    async with factory() as session:
        return refund_requests.outcome_of(await refunds.get_refund(session=session, refund_id=refund_id))
