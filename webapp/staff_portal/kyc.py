"""KYC queue: identities the registry did not settle and T2 documents, oldest first; the profile
and documents (decrypted for the viewer only, never cached) beside the sanctions screening; the
decisions of the staff API (onboarding.approve_t1, kyc.review_t2, kyc.request_more: new photos asked
for by SMS). Views and decisions audited."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from compliance import audit_trail, kyc, onboarding
from compliance import queries as compliance_queries
from compliance.models import KycProfile
from core.auth.permissions import Permission
from core.identity import queries as identity_queries
from webapp.deps_auth import DbSession, get_keyring, get_runtime
from webapp.staff_portal.actions import attempt
from webapp.staff_portal.auth import PREFIX, actor, render, staff_of, staff_page
from webapp.web import forms, pagination
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
KycPage = Annotated[Page, Depends(staff_page(Permission.KYC_REVIEW))]
CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**62)]


# A rejection names one of these (a code, not free text: the audit chain holds no free-text notes).
REASONS = (
    "id_unreadable",
    "name_mismatch",
    "dob_mismatch",
    "document_expired",
    "selfie_mismatch",
    "suspected_fraud",
)


class Decision(BaseModel):
    decision: str = Field(pattern="^(approve|reject|more)$")
    reason: str = Field(default="", pattern="^(|" + "|".join(REASONS) + ")$")


@router.get("/kyc")
async def queue(page: KycPage, session: DbSession) -> Response:
    found = await compliance_queries.kyc_queue(
        session=session, after=pagination.cursor(page.request.query_params.get("after"))
    )
    await session.commit()
    return render(page, "staff/kyc_queue.html", profiles=found)


async def _detail(page: Page, session: DbSession, customer_id: int, **extra: object) -> Response:
    profile = await kyc.get_profile(session=session, customer_id=customer_id)
    customer = await identity_queries.customer_view(session=session, customer_id=customer_id)
    if profile is None or customer is None:
        raise WebError(404, "web.error.not_found", page.language)
    documents = await compliance_queries.kyc_documents(session=session, customer_id=customer_id)
    screenings = await compliance_queries.recent_screenings(session=session, customer_id=customer_id)
    # who saw whose data, committed before it is shown (compliance.audit_trail.record_read)
    await audit_trail.record_read(
        session=session, actor=actor(staff_of(page)), action="kyc.profile_read",
        subject=f"customer:{customer_id}", now=page.now,
    )  # fmt: skip
    context: dict[str, object] = {"errors": {}, "values": {}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/kyc_detail.html", status=422 if extra.get("error") else 200, reasons=REASONS,
        profile=profile, customer=customer, documents=documents, screenings=screenings, **context,
    )  # fmt: skip


@router.get("/kyc/{customer_id}")
async def detail(customer_id: CustomerId, page: KycPage, session: DbSession) -> Response:
    return await _detail(page, session, customer_id)


@router.get("/kyc/documents/{document_id}")
async def document(document_id: RowId, page: KycPage, session: DbSession) -> Response:
    """The decrypted image, streamed to this viewer only (no-store), its viewing audited first."""
    found = await compliance_queries.find_kyc_document(session=session, document_id=document_id)
    if found is None:
        raise WebError(404, "web.error.not_found", page.language)
    await audit_trail.record_read(
        session=session, actor=actor(staff_of(page)), action="kyc.document_read",
        subject=f"customer:{found.customer_id}", now=page.now,
        details={"document_id": found.id, "kind": found.kind},
    )  # fmt: skip
    content = kyc.open_document(found, keyring=get_keyring(get_runtime(page.request)))
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return page.respond(Response(content, media_type=found.content_type, headers=headers))


async def _decide(page: Page, session: DbSession, customer_id: int, *, documents: bool) -> Response:
    result = await forms.parse(Decision, await page.request.form(), page.language)
    if result.value is None:
        return await _detail(
            page, session, customer_id, errors=result.errors, values=result.values, error=" "
        )
    choice = result.value
    if choice.decision in ("reject", "more") and not choice.reason:
        errors = {"reason": forms.message_for("missing", page.language)}
        return await _detail(page, session, customer_id, errors=errors, values=result.values, error=" ")
    reviewer = actor(staff_of(page))
    approve = choice.decision == "approve"
    if choice.decision == "more":  # new photos: an SMS to the customer, the profile waits for them
        asked = kyc.request_more(
            session=session, customer_id=customer_id, reviewer=reviewer, reason=choice.reason, now=page.now
        )
        done = await attempt(session, asked, page.language)
        if not done.ok:
            return await _detail(page, session, customer_id, error=done.error, values=result.values)
        return page.redirect(f"{PREFIX}/kyc", notice="staff.notice.kyc_more_requested")
    if documents:
        work = kyc.review_t2(
            session=session, customer_id=customer_id, approve=approve, reviewer=reviewer, now=page.now
        )
    else:
        work = onboarding.approve_t1(
            session=session, customer_id=customer_id, approve=approve, reviewer=reviewer, now=page.now
        )
    outcome = await attempt(
        session, _with_reason(session, work, reviewer, customer_id, choice.reason, page), page.language
    )
    if not outcome.ok:
        return await _detail(page, session, customer_id, error=outcome.error, values=result.values)
    notice = "staff.notice.kyc_approved" if approve else "staff.notice.kyc_rejected"
    return page.redirect(f"{PREFIX}/kyc", notice=notice)


async def _with_reason(
    session: DbSession, work: Awaitable[KycProfile], reviewer: str, customer_id: int, reason: str, page: Page
) -> KycProfile:
    """The decision, then the rejection's reason code in the audit chain, in one transaction."""
    decided = await work
    if reason:
        await audit_trail.record(
            session=session, actor=reviewer, action="kyc.review_reason", subject=f"customer:{customer_id}",
            now=page.now, details={"reason": reason},
        )  # fmt: skip
    return decided


@router.post("/kyc/{customer_id}/identity")
async def decide_identity(customer_id: CustomerId, page: KycPage, session: DbSession) -> Response:
    return await _decide(page, session, customer_id, documents=False)


@router.post("/kyc/{customer_id}/documents")
async def decide_documents(customer_id: CustomerId, page: KycPage, session: DbSession) -> Response:
    return await _decide(page, session, customer_id, documents=True)


class TierForm(BaseModel):
    tier: int = Field(ge=0, le=9)
    reason: str = Field(pattern="^(" + "|".join(REASONS) + ")$")


@router.post("/kyc/{customer_id}/tier")
async def lower_tier(customer_id: CustomerId, page: KycPage, session: DbSession) -> Response:
    """Lower a customer's tier (raising one goes through the identity and document reviews)."""
    result = await forms.parse(TierForm, await page.request.form(), page.language)
    profile = await kyc.get_profile(session=session, customer_id=customer_id)
    if profile is None:
        raise WebError(404, "web.error.not_found", page.language)
    if result.value is None or result.value.tier >= profile.tier:
        errors = result.errors or {"tier": forms.message_for("less_than_equal", page.language)}
        return await _detail(page, session, customer_id, errors=errors, values=result.values, error=" ")
    work = kyc.set_customer_tier(
        session=session, profile=profile, tier=result.value.tier, actor=actor(staff_of(page)),
        reason=result.value.reason, now=page.now,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _detail(page, session, customer_id, error=outcome.error)
    return page.redirect(f"{PREFIX}/kyc/{customer_id}", notice="staff.notice.tier_lowered")
