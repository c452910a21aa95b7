"""Payouts desk: payouts and collections by state, a payout's Daraja call log, "reconcile now"
(Transaction Status for everything not final: the job `kibeti payouts reconcile` runs), a failed
payout sent again once two people agree (core.payments.retries), and paybill payments held in
suspense released to a customer by two people (payouts.c2b_suspense). PesaPal refunds not settled
(being sent; their outcome unknown; or accepted by PesaPal, waiting for approval on PesaPal's
dashboard: each with the amount held, nothing debited) with their age, and "check with PesaPal now":
its transaction status books a refund it shows made (core.rails.refund_requests.check_status),
never a second refund; a Completed status leaves it held (it may await the merchant's approval).
"PesaPal has no such refund: release the hold" (for an accepted one: declined or never approved
there) is proposed by one staff member after checking PesaPal's dashboard and confirmed by a
different one (core.rails.refund_release)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.audit import service as audit
from core.auth.permissions import Permission
from core.payments import queries as payment_queries
from core.payments import retries
from core.payments.types import PayoutStatus
from core.rails import refund_release, refund_requests
from core.rails import refunds as rail_refunds
from core.rails.errors import RailError
from payouts import c2b_suspense
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal import labels
from webapp.staff_portal.actions import attempt, message
from webapp.staff_portal.auth import PREFIX, may, render, staff_of, staff_page
from webapp.web import forms, i18n, pagination
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ReadPage = Annotated[Page, Depends(staff_page(Permission.PAYOUTS_READ))]
ApprovePage = Annotated[Page, Depends(staff_page(Permission.PAYOUTS_APPROVE))]
PayoutId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
RequestId = Annotated[int, Path(ge=1, le=2**62)]
RECONCILE_JOB = "payouts.jobs.reconcile_stuck_payouts"
PAGE = 50


class RetryForm(BaseModel):
    reason: str = Field(min_length=3, max_length=300)


class RefundReleaseForm(BaseModel):
    reason: str = Field(min_length=10, max_length=200)  # what PesaPal's dashboard shows


class ReleaseForm(BaseModel):
    trans_id: str = Field(min_length=4, max_length=40, pattern=r"^[A-Z0-9]+$")
    account: str = Field(min_length=1, max_length=20)


def _before(page: Page) -> datetime | None:
    raw = page.request.query_params.get("before", "")
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@router.get("/payouts")
async def desk(page: ReadPage, session: DbSession) -> Response:
    return await _desk(page, session)


async def _desk(page: Page, session: DbSession, **extra: object) -> Response:
    states = [s.value for s in PayoutStatus]
    state = page.request.query_params.get("state", PayoutStatus.UNKNOWN.value)
    state = state if state in states else PayoutStatus.UNKNOWN.value
    before = _before(page)
    rows = await payment_queries.payouts_in_state(
        session=session, status=state, limit=PAGE + 1,
        created_before=before if before is not None and before.tzinfo is not None else None,
    )  # fmt: skip
    next_before = rows[PAGE - 1].created_at.isoformat() if len(rows) > PAGE else ""
    # how long each unknown payout has been unknown (status queries move updated_at, not this)
    unknown_minutes = {
        p.id: max(0, int((page.now - p.unknown_since).total_seconds() // 60))
        for p in rows
        if p.unknown_since is not None
    }
    collections = await payment_queries.unfinished_collections(
        session=session, before=pagination.cursor(page.request.query_params.get("cbefore")), limit=20
    )
    suspense = await payment_queries.c2b_in_suspense(session=session, limit=PAGE)
    viewer = f"staff:{staff_of(page).id}"
    refunds = [
        _refund_row(
            row, page.now, await refund_release.proposal_of(session=session, refund_id=row.id), viewer
        )
        for row in await rail_refunds.open_refunds(session=session, limit=PAGE)
    ]
    await session.commit()
    context: dict[str, object] = {"errors": {}, "values": {}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/payouts.html", status=422 if context["error"] else 200, payouts=rows[:PAGE],
        unknown_minutes=unknown_minutes,
        next_before=next_before, states=states, state=state, collections=collections, suspense=suspense,
        refunds=refunds, may_approve=may(page, Permission.PAYOUTS_APPROVE), **labels.helpers(page.language),
        **context,
    )  # fmt: skip


def _refund_row(
    row: Any, now: datetime, proposal: refund_release.Proposal | None, viewer: str
) -> dict[str, object]:
    minutes = max(0, int((now - row.created_at).total_seconds() // 60))
    return {"id": row.id, "order_id": row.order_id, "status": row.status, "amount_minor": row.amount_minor,
            "minutes": minutes, "checks": row.checks, "proposal": proposal,
            "proposed_by_me": proposal is not None and proposal.maker == viewer}  # fmt: skip


@router.post("/payouts/refunds/{refund_id}/check")
async def check_refund(refund_id: RequestId, page: ApprovePage, session: DbSession) -> Response:
    """Ask PesaPal's transaction status about an open refund now (what a staff retry does first):
    made -> booked once; Completed -> still held (it may await the merchant's approval); an answer
    that could not be read settles nothing and gets its own notice. It is never sent again from here.
    Audited per state."""
    runtime = get_runtime(page.request)
    try:
        row = await rail_refunds.get_refund(session=session, refund_id=refund_id)
    except RailError as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    await session.commit()
    rail = runtime.collection_rails.get(row.rail)
    if rail is None:
        return await _desk(page, session, error=i18n.text("staff.payouts.refund_rail_missing", page.language))
    checked = await refund_requests.check_status(
        factory=runtime.session_factory, rail=rail, refund_id=refund_id, actor=f"staff:{staff_of(page).id}"
    )
    # an answer that could not be read settled nothing: say so, and what to do next
    notice = "staff.notice.refund_status_unreadable" if checked.unreadable else "staff.notice.refund_checked"
    return page.redirect(f"{PREFIX}/payouts", notice=notice)


@router.post("/payouts/refunds/{refund_id}/release")
async def propose_refund_release(refund_id: RequestId, page: ApprovePage, session: DbSession) -> Response:
    """ "PesaPal has no such refund: release the hold", proposed after checking PesaPal's dashboard;
    nothing is released until a different staff member confirms. Audited."""
    result = await forms.parse(RefundReleaseForm, await page.request.form(), page.language)
    if result.value is None:
        return await _desk(page, session, errors=result.errors, values=result.values, error=" ")
    work = refund_release.propose_release(
        session=session, refund_id=refund_id, maker=f"staff:{staff_of(page).id}", reason=result.value.reason
    )
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _desk(page, session, error=outcome.error)
    return page.redirect(f"{PREFIX}/payouts", notice="staff.notice.refund_release_proposed")


@router.post("/payouts/refunds/{refund_id}/release/confirm")
async def confirm_refund_release(refund_id: RequestId, page: ApprovePage, session: DbSession) -> Response:
    """A second staff member confirms: PesaPal's status is asked once more (made -> booked), else
    the hold is voided once; never the staff member who proposed it."""
    runtime = get_runtime(page.request)
    try:
        row = await rail_refunds.get_refund(session=session, refund_id=refund_id)
    except RailError as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    await session.commit()
    rail = runtime.collection_rails.get(row.rail)
    if rail is None:
        return await _desk(page, session, error=i18n.text("staff.payouts.refund_rail_missing", page.language))
    try:
        await refund_release.confirm_release(
            factory=runtime.session_factory, rail=rail, refund_id=refund_id,
            checker=f"staff:{staff_of(page).id}",
        )  # fmt: skip
    except RailError as exc:
        return await _desk(page, session, error=message(exc, page.language))
    return page.redirect(f"{PREFIX}/payouts", notice="staff.notice.refund_released")


@router.get("/payouts/{payout_id}")
async def payout(payout_id: PayoutId, page: ReadPage, session: DbSession) -> Response:
    return await _payout(payout_id, page, session)


async def _payout(payout_id: str, page: Page, session: DbSession, **extra: object) -> Response:
    found = await payment_queries.find_payout(session=session, payout_id=payout_id)
    if found is None:
        raise WebError(404, "web.error.not_found", page.language)
    calls = await payment_queries.callbacks_of_payout(session=session, payout=found)
    retry = await retries.request_for(session=session, payout_id=found.id)
    await session.commit()
    context: dict[str, object] = {"errors": {}, "values": {}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/payout.html", status=422 if context["error"] else 200, payout=found, calls=calls,
        retry=retry, viewer_id=staff_of(page).id, may_approve=may(page, Permission.PAYOUTS_APPROVE),
        **context,
    )  # fmt: skip


@router.post("/payouts/reconcile")
async def reconcile(page: ApprovePage, session: DbSession) -> Response:
    """Ask Daraja now about every payout not final; the answers settle each payout exactly once."""
    runtime = get_runtime(page.request)
    staff = staff_of(page)
    stamp = int(page.now.timestamp())
    await audit.record(
        session=session, actor=f"staff:{staff.id}", action="payouts.reconcile_requested", subject="payouts",
        details={"older_than_s": 0},
    )  # fmt: skip
    await session.commit()
    runtime.queue.enqueue(
        RECONCILE_JOB, job_id=f"reconcile-staff-{staff.id}-{stamp}", kwargs={"older_than_s": 0.0}
    )
    return page.redirect(f"{PREFIX}/payouts", notice="staff.notice.reconcile_started")


@router.post("/payouts/{payout_id}/retry")
async def propose_retry(payout_id: PayoutId, page: ApprovePage, session: DbSession) -> Response:
    """Ask for a failed payout to be sent again; a second person approves it on this page."""
    result = await forms.parse(RetryForm, await page.request.form(), page.language)
    if result.value is None:
        return await _payout(payout_id, page, session, errors=result.errors, values=result.values, error=" ")
    work = retries.propose(
        session=session, payout_id=payout_id, maker_id=staff_of(page).id, reason=result.value.reason,
        clock=get_runtime(page.request).clock,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _payout(payout_id, page, session, error=outcome.error, values=result.values)
    return page.redirect(f"{PREFIX}/payouts/{payout_id}", notice="staff.notice.retry_proposed")


@router.post("/payouts/retries/{request_id}/approve")
async def approve_retry(request_id: RequestId, page: ApprovePage, session: DbSession) -> Response:
    """A second person approves: a new payout is staged under a key derived from the request."""
    return await _decide_retry(True, request_id, page, session, "staff.notice.retry_approved")


@router.post("/payouts/retries/{request_id}/reject")
async def reject_retry(request_id: RequestId, page: ApprovePage, session: DbSession) -> Response:
    return await _decide_retry(False, request_id, page, session, "staff.notice.retry_rejected")


async def _decide_retry(
    approve: bool, request_id: int, page: Page, session: DbSession, notice: str
) -> Response:
    decide = retries.approve if approve else retries.reject
    work = decide(
        session=session, request_id=request_id, checker_id=staff_of(page).id,
        clock=get_runtime(page.request).clock,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if not outcome.ok or outcome.value is None:
        found = await payment_queries.find_retry_request(session=session, request_id=request_id)
        if found is None:
            raise WebError(404, "web.error.not_found", page.language)
        return await _payout(found.payout_id, page, session, error=outcome.error)
    return page.redirect(f"{PREFIX}/payouts/{outcome.value.payout_id}", notice=notice)


@router.post("/payouts/suspense/release")
async def release(page: ApprovePage, session: DbSession) -> Response:
    result = await forms.parse(ReleaseForm, await page.request.form(), page.language)
    if result.value is None:
        return await _desk(page, session, errors=result.errors, values=result.values, error=" ")
    form = result.value
    actor = f"staff:{staff_of(page).id}"
    outcome = await attempt(
        session,
        c2b_suspense.release(session, trans_id=form.trans_id, account=form.account, actor=actor),
        page.language,
    )
    if not outcome.ok:
        return await _desk(page, session, error=outcome.error, values=result.values)
    done = isinstance(outcome.value, c2b_suspense.Released)
    return page.redirect(
        f"{PREFIX}/payouts", notice="staff.notice.released" if done else "staff.notice.release_proposed"
    )
