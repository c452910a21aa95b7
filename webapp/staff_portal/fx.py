"""FX: the latest rate per pair and source, and manual rates under maker-checker (core.fx.overrides,
as /api/staff/fx/overrides): a finance user proposes, a different finance user approves or rejects."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.auth.permissions import Permission
from core.fx import overrides
from core.fx import queries as fx_queries
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal import maker_checker
from webapp.staff_portal.auth import PREFIX, render, staff_of, staff_page
from webapp.web import pagination
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
FxPage = Annotated[Page, Depends(staff_page(Permission.FX_OVERRIDE))]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class OverrideForm(BaseModel):
    pair: str = Field(pattern=r"^[A-Za-z0-9-]{2,12}/[A-Za-z0-9-]{2,12}$")
    rate: str = Field(pattern=r"^\d{1,12}(\.\d{1,12})?$")
    minutes: int = Field(default=60, ge=1, le=24 * 60)
    reason: str = Field(min_length=3, max_length=200)


async def _page(page: Page, session: DbSession, status: int = 200, **extra: Any) -> Response:
    rates = await fx_queries.newest_rate_per_source(session=session)
    pending = await fx_queries.pending_overrides(session=session)
    history = await fx_queries.decided_overrides(
        session=session, before=pagination.cursor(page.request.query_params.get("before"))
    )
    await session.commit()
    context: dict[str, Any] = {"errors": {}, "values": {"minutes": "60"}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/fx.html", status=status, rates=rates, pending=pending, history=history,
        viewer=staff_of(page).id, **context,
    )  # fmt: skip


@router.get("/fx")
async def fx(page: FxPage, session: DbSession) -> Response:
    return await _page(page, session)


@router.post("/fx/overrides")
async def propose(page: FxPage, session: DbSession) -> Response:
    def work(form: OverrideForm) -> Awaitable[object]:
        base, _, quote = form.pair.upper().partition("/")
        return overrides.propose_override(
            session=session, base=base, quote=quote, rate=form.rate, reason=form.reason,
            maker_id=staff_of(page).id, clock=get_runtime(page.request).clock,
            valid_for=timedelta(minutes=form.minutes),
        )  # fmt: skip

    return await maker_checker.propose(page, session, OverrideForm, work, again=_page, back_to=f"{PREFIX}/fx")


async def _decide(page: Page, session: DbSession, override_id: int, approve: bool) -> Response:
    decide = overrides.approve_override if approve else overrides.reject_override
    work = decide(
        session=session,
        override_id=override_id,
        checker_id=staff_of(page).id,
        clock=get_runtime(page.request).clock,
    )
    return await maker_checker.decide(
        page, session, work, approve=approve, again=_page, back_to=f"{PREFIX}/fx"
    )


@router.post("/fx/overrides/{override_id}/approve")
async def approve(override_id: OverrideId, page: FxPage, session: DbSession) -> Response:
    return await _decide(page, session, override_id, True)


@router.post("/fx/overrides/{override_id}/reject")
async def reject(override_id: OverrideId, page: FxPage, session: DbSession) -> Response:
    return await _decide(page, session, override_id, False)
