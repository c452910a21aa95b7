"""Configuration with maker-checker: fee schedules, the FX margin and compliance monitoring
thresholds (core.configchanges): propose, see the diff against what is in force, a second person with
config.change approves, the change becomes a new version from its effective time (the rule engine
reads it from then: compliance.gate.enabled_rules); the history stays browsable."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from compliance.gate import enabled_rules
from core.auth.permissions import Permission
from core.configchanges import queries as change_queries
from core.configchanges import service as changes
from core.fees import service as fees
from core.fees.schedule import FeeKind
from core.fees.types import ANY
from core.money import Asset
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal import maker_checker
from webapp.staff_portal.auth import PREFIX, may, render, staff_of, staff_page
from webapp.web import pagination
from webapp.web.i18n import NAIROBI
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ProposePage = Annotated[Page, Depends(staff_page(Permission.CONFIG_PROPOSE))]
CheckPage = Annotated[Page, Depends(staff_page(Permission.CONFIG_CHANGE))]
ChangeId = Annotated[int, Path(ge=1, le=2**62)]
AMOUNT = r"^(|\d{1,12}(\.\d{1,8})?)$"
ASSETS = (ANY, *sorted({a.value for a in Asset}))


class FeeForm(BaseModel):
    kind: str = Field(pattern="^(" + "|".join(FeeKind.ALL) + ")$")
    asset: str = Field(default=ANY, pattern=r"^(\*|[A-Z0-9-]{2,16})$")
    side: str = Field(default=ANY, pattern=r"^(\*|buy|sell)$")
    percent: str = Field(pattern=r"^\d{1,2}(\.\d{1,6})?$")
    currency: str = Field(default="KES", pattern=r"^[A-Z0-9-]{2,16}$")
    fixed: str = Field(default="", pattern=AMOUNT)
    minimum: str = Field(default="", pattern=AMOUNT)
    maximum: str = Field(default="", pattern=AMOUNT)
    effective_from: datetime | None = None  # Nairobi time, as a datetime-local field sends it
    reason: str = Field(min_length=3, max_length=300)


class ThresholdForm(BaseModel):
    rule: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    param: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    value: str = Field(pattern=r"^\d{1,12}(\.\d{1,6})?$")
    effective_from: datetime | None = None
    reason: str = Field(min_length=3, max_length=300)


MONITOR_MODES = ("block", "review", "monitor")


async def _page(page: Page, session: DbSession, status: int = 200, **extra: Any) -> Response:
    in_force = await fees.rules_in_force(session=session, at=page.now)
    current: dict[tuple[Any, ...], Any] = {}
    for row in in_force:  # the newest version per scope
        key = (row.kind, row.asset, row.side, row.kyc_tier, row.merchant_id)
        if key not in current or (row.effective_from, row.version) > (
            current[key].effective_from,
            current[key].version,
        ):
            current[key] = row
    pending = await change_queries.pending_changes(session=session)
    history = await change_queries.decided_changes(
        session=session, before=pagination.cursor(page.request.query_params.get("before"))
    )
    monitoring = sorted(await enabled_rules(session, MONITOR_MODES, now=page.now), key=lambda r: r.code)
    await session.commit()
    context: dict[str, Any] = {
        "errors": {},
        "values": {"asset": ANY, "side": ANY, "currency": "KES"},
        "error": "",
    }
    context.update(extra)
    rules = sorted(current.values(), key=lambda r: (r.kind, r.asset, r.side))
    return render(
        page, "staff/config.html", status=status, rules=rules, monitoring=monitoring,
        pending=pending, history=history, diff=changes.diff, kinds=FeeKind.ALL, assets=ASSETS,
        may_check=may(page, Permission.CONFIG_CHANGE), viewer=staff_of(page).id, **context,
    )  # fmt: skip


@router.get("/config")
async def config(page: ProposePage, session: DbSession) -> Response:
    return await _page(page, session)


@router.post("/config/fees")
async def propose(page: ProposePage, session: DbSession) -> Response:
    def work(form: FeeForm) -> Awaitable[object]:
        proposal = changes.FeeRuleProposal(
            kind=form.kind, asset=form.asset, side=form.side, percent=form.percent, currency=form.currency,
            fixed=form.fixed, minimum=form.minimum, maximum=form.maximum,
        )  # fmt: skip
        return changes.propose_fee_rule(
            session=session, proposal=proposal, effective_from=_nairobi(form.effective_from),
            reason=form.reason, maker_id=staff_of(page).id, clock=get_runtime(page.request).clock,
        )  # fmt: skip

    return await maker_checker.propose(page, session, FeeForm, work, again=_page, back_to=f"{PREFIX}/config")


@router.post("/config/monitoring")
async def propose_threshold(page: ProposePage, session: DbSession) -> Response:
    async def work(form: ThresholdForm) -> object:
        rules = {r.code: r.params for r in await enabled_rules(session, MONITOR_MODES, now=page.now)}
        return await changes.propose_monitoring_threshold(
            session=session, rule=form.rule, param=form.param, value=form.value,
            in_force=rules.get(form.rule), effective_from=_nairobi(form.effective_from), reason=form.reason,
            maker_id=staff_of(page).id, clock=get_runtime(page.request).clock,
        )  # fmt: skip

    return await maker_checker.propose(
        page, session, ThresholdForm, work, again=_page, back_to=f"{PREFIX}/config"
    )


def _nairobi(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=NAIROBI) if when is not None and when.tzinfo is None else when


async def _decide(page: Page, session: DbSession, change_id: int, *, approve: bool) -> Response:
    decide = changes.approve if approve else changes.reject
    work = decide(
        session=session,
        change_id=change_id,
        checker_id=staff_of(page).id,
        clock=get_runtime(page.request).clock,
    )
    return await maker_checker.decide(
        page, session, work, approve=approve, again=_page, back_to=f"{PREFIX}/config"
    )


@router.post("/config/changes/{change_id}/approve")
async def approve(change_id: ChangeId, page: CheckPage, session: DbSession) -> Response:
    return await _decide(page, session, change_id, approve=True)


@router.post("/config/changes/{change_id}/reject")
async def reject(change_id: ChangeId, page: CheckPage, session: DbSession) -> Response:
    return await _decide(page, session, change_id, approve=False)
