"""KYC tier limits with maker-checker (compliance.kyc.propose_limit_change / decide_limit_change, as
/api/staff/compliance/tiers/... does): propose, the diff against the tier's limits, a different
person decides, the history stays browsable."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from compliance import kyc
from compliance import queries as compliance_queries
from core.auth.permissions import Permission
from webapp.deps_auth import DbSession
from webapp.staff_portal import maker_checker
from webapp.staff_portal.auth import PREFIX, actor, render, staff_of, staff_page
from webapp.web import forms, pagination
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LimitsPage = Annotated[Page, Depends(staff_page(Permission.LIMITS_CHANGE))]
ChangeId = Annotated[int, Path(ge=1, le=2**62)]
AMOUNT = r"^(|\d{1,12}(\.\d{1,2})?)$"


class LimitsForm(BaseModel):
    tier: int = Field(ge=0, le=9)
    per_transaction_kes: str = Field(default="", pattern=AMOUNT)
    daily_kes: str = Field(default="", pattern=AMOUNT)
    monthly_kes: str = Field(default="", pattern=AMOUNT)
    max_balance_kes: str = Field(default="", pattern=AMOUNT)
    crypto_withdrawal_kes: str = Field(default="", pattern=AMOUNT)
    reason: str = Field(min_length=3, max_length=300)


async def _page(page: Page, session: DbSession, status: int = 200, **extra: Any) -> Response:
    tiers = await kyc.list_tiers(session=session)
    current = {t.tier: kyc.tier_limits_kes(t) for t in tiers}
    pending = await compliance_queries.pending_limit_changes(session=session)
    history = await compliance_queries.decided_limit_changes(
        session=session, before=pagination.cursor(page.request.query_params.get("before"))
    )
    await session.commit()
    context: dict[str, Any] = {"errors": {}, "values": {}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/limits.html", status=status, tiers=tiers, current=current, pending=pending,
        history=history, fields=kyc.LIMIT_FIELDS, viewer=actor(staff_of(page)), **context,
    )  # fmt: skip


@router.get("/limits")
async def limits(page: LimitsPage, session: DbSession) -> Response:
    return await _page(page, session)


def _wanted(form: LimitsForm) -> dict[str, str]:
    return {name: getattr(form, name) for name in kyc.LIMIT_FIELDS if getattr(form, name)}


@router.post("/limits")
async def propose(page: LimitsPage, session: DbSession) -> Response:
    def nothing_asked(form: LimitsForm) -> dict[str, str]:
        return {} if _wanted(form) else {kyc.LIMIT_FIELDS[0]: forms.message_for("missing", page.language)}

    def work(form: LimitsForm) -> Awaitable[object]:
        return kyc.propose_limit_change(
            session=session, tier=form.tier, limits_kes=_wanted(form), reason=form.reason,
            actor=actor(staff_of(page)), now=page.now,
        )  # fmt: skip

    return await maker_checker.propose(
        page, session, LimitsForm, work, again=_page, back_to=f"{PREFIX}/limits", refuse=nothing_asked
    )


async def _decide(page: Page, session: DbSession, change_id: int, approve: bool) -> Response:
    work = kyc.decide_limit_change(
        session=session, change_id=change_id, approve=approve, actor=actor(staff_of(page)), now=page.now
    )
    return await maker_checker.decide(
        page, session, work, approve=approve, again=_page, back_to=f"{PREFIX}/limits"
    )


@router.post("/limits/{change_id}/approve")
async def approve(change_id: ChangeId, page: LimitsPage, session: DbSession) -> Response:
    return await _decide(page, session, change_id, True)


@router.post("/limits/{change_id}/reject")
async def reject(change_id: ChangeId, page: LimitsPage, session: DbSession) -> Response:
    return await _decide(page, session, change_id, False)
