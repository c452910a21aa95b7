"""Configuration changes under maker-checker (core.configchanges), the JSON twin of the staff
portal's configuration page: POST /api/staff/config/fee-changes proposes a fee rule (config.propose),
POST /api/staff/config/monitoring-changes proposes a monitoring threshold (config.propose),
POST /api/staff/config/changes/{id}/approve or /reject decides it (config.change, a different person)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from compliance.gate import enabled_rules
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.configchanges import queries as change_queries
from core.configchanges import service as changes
from core.configchanges.errors import ChangeNotFound, ChangeNotPending, InvalidChange, SameMakerChecker
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff/config", tags=["config"])

ProposeStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.CONFIG_PROPOSE))]
CheckStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.CONFIG_CHANGE))]
ChangeId = Annotated[int, Path(ge=1, le=2**62)]
_STATUS: dict[type, int] = {
    ChangeNotFound: 404,
    ChangeNotPending: 409,
    SameMakerChecker: 409,
    InvalidChange: 422,
}
Amount = Annotated[str, Field(default="", max_length=24, pattern=r"^(|\d{1,12}(\.\d{1,8})?)$")]


class ProposeFeeRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=16)
    asset: str = Field(default="*", max_length=16)
    side: str = Field(default="*", max_length=8)
    percent: str = Field(max_length=24, description="decimal text, never a float")
    currency: str = Field(default="KES", max_length=16)
    fixed: Amount = ""
    minimum: Amount = ""
    maximum: Amount = ""
    effective_from: datetime | None = None
    reason: str = Field(min_length=1, max_length=300)


class ProposeThreshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str = Field(max_length=40)
    param: str = Field(max_length=40)
    value: str = Field(
        max_length=24, pattern=r"^\d{1,12}(\.\d{1,6})?$", description="decimal text; *_kes in shillings"
    )
    effective_from: datetime | None = None
    reason: str = Field(min_length=1, max_length=300)


class ChangeOut(BaseModel):
    """A change as core.configchanges returns it (its attributes, read by name)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    payload: dict[str, Any]
    previous: dict[str, Any]
    reason: str
    status: str
    maker_id: int
    checker_id: int | None
    effective_from: datetime
    applied_ref: str
    created_at: datetime


def _refused(exc: Exception) -> HTTPException:
    code = getattr(exc, "code", "invalid")
    return HTTPException(_STATUS.get(type(exc), 422), {"code": code, "message": str(exc)})


@router.get("/changes", response_model=list[ChangeOut])
async def list_changes(
    session: DbSession,
    _staff: ProposeStaff,
    state: Annotated[str, Query(alias="status", pattern="^(|pending|approved|rejected)$")] = "",
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[ChangeOut]:
    rows = await change_queries.recent_changes(session=session, status=state, before=before)
    return [ChangeOut.model_validate(row) for row in rows]


@router.post("/fee-changes", response_model=ChangeOut, status_code=status.HTTP_201_CREATED)
async def propose_fee_change(
    body: ProposeFeeRule, request: Request, session: DbSession, staff: ProposeStaff
) -> ChangeOut:
    proposal = changes.FeeRuleProposal(
        kind=body.kind, asset=body.asset, side=body.side, percent=body.percent, currency=body.currency,
        fixed=body.fixed, minimum=body.minimum, maximum=body.maximum,
    )  # fmt: skip
    try:
        row = await changes.propose_fee_rule(
            session=session, proposal=proposal, effective_from=body.effective_from, reason=body.reason,
            maker_id=staff.id, clock=get_runtime(request).clock,
        )  # fmt: skip
    except InvalidChange as exc:
        await session.rollback()
        raise _refused(exc) from exc
    await session.commit()
    return ChangeOut.model_validate(row)


@router.post("/monitoring-changes", response_model=ChangeOut, status_code=status.HTTP_201_CREATED)
async def propose_threshold_change(
    body: ProposeThreshold, request: Request, session: DbSession, staff: ProposeStaff
) -> ChangeOut:
    clock = get_runtime(request).clock
    rules = {
        r.code: r.params
        for r in await enabled_rules(session, ("block", "review", "monitor"), now=clock.now())
    }
    try:
        row = await changes.propose_monitoring_threshold(
            session=session, rule=body.rule, param=body.param, value=body.value,
            in_force=rules.get(body.rule), effective_from=body.effective_from, reason=body.reason,
            maker_id=staff.id, clock=clock,
        )  # fmt: skip
    except InvalidChange as exc:
        await session.rollback()
        raise _refused(exc) from exc
    await session.commit()
    return ChangeOut.model_validate(row)


async def _decide(
    decide: Any, change_id: int, request: Request, session: Any, staff: SignedInStaff
) -> ChangeOut:
    try:
        row = await decide(
            session=session, change_id=change_id, checker_id=staff.id, clock=get_runtime(request).clock
        )
    except (ChangeNotFound, ChangeNotPending, SameMakerChecker, InvalidChange) as exc:
        await session.rollback()
        raise _refused(exc) from exc
    await session.commit()
    return ChangeOut.model_validate(row)


@router.post("/changes/{change_id}/approve", response_model=ChangeOut)
async def approve(change_id: ChangeId, request: Request, session: DbSession, staff: CheckStaff) -> ChangeOut:
    return await _decide(changes.approve, change_id, request, session, staff)


@router.post("/changes/{change_id}/reject", response_model=ChangeOut)
async def reject(change_id: ChangeId, request: Request, session: DbSession, staff: CheckStaff) -> ChangeOut:
    return await _decide(changes.reject, change_id, request, session, staff)
