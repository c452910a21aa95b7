"""Manual FX rates by signed-in finance staff, maker-checker: POST /api/staff/fx/overrides proposes,
POST /api/staff/fx/overrides/{id}/approve (a different person) puts it in force, .../reject drops it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.fx import overrides
from core.fx.errors import OverrideNotAllowed, OverrideNotFound, UnknownPair
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff/fx", tags=["fx"])

FxStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.FX_OVERRIDE))]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_STATUS: dict[type, int] = {OverrideNotFound: 404, OverrideNotAllowed: 409, UnknownPair: 422}


class ProposeOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pair: str = Field(pattern=r"^[A-Za-z0-9-]{2,12}/[A-Za-z0-9-]{2,12}$", examples=["USDT/KES"])
    rate: str = Field(min_length=1, max_length=40, description="a decimal, as text (never a float)")
    reason: str = Field(min_length=1, max_length=200)
    minutes: int = Field(default=60, ge=1, le=24 * 60)


class OverrideRow(Protocol):
    """What this API reads of an override core.fx.overrides returns."""

    id: int
    base: str
    quote: str
    rate: str
    reason: str
    status: str
    maker_id: int
    checker_id: int | None
    created_at: datetime
    valid_until: datetime | None


class OverrideOut(BaseModel):
    id: int
    pair: str
    rate: str
    reason: str
    status: str
    maker_id: int
    checker_id: int | None
    created_at: datetime
    valid_until: datetime | None

    @classmethod
    def of(cls, row: OverrideRow) -> OverrideOut:
        return cls(
            id=row.id, pair=f"{row.base}/{row.quote}", rate=row.rate, reason=row.reason, status=row.status,
            maker_id=row.maker_id, checker_id=row.checker_id, created_at=row.created_at,
            valid_until=row.valid_until,
        )  # fmt: skip


def _refused(exc: OverrideNotAllowed | OverrideNotFound | UnknownPair) -> HTTPException:
    code = getattr(exc, "code", "invalid")
    return HTTPException(_STATUS.get(type(exc), 422), {"code": code, "message": str(exc)})


@router.get("/overrides", response_model=list[OverrideOut])
async def list_overrides(
    session: DbSession,
    _staff: FxStaff,
    state: Annotated[str, Query(alias="status", pattern="^(|pending|approved|rejected)$")] = "",
) -> list[OverrideOut]:
    return [OverrideOut.of(row) for row in await overrides.list_overrides(session=session, status=state)]


@router.post("/overrides", response_model=OverrideOut, status_code=status.HTTP_201_CREATED)
async def propose(body: ProposeOverride, request: Request, session: DbSession, staff: FxStaff) -> OverrideOut:
    base, _, quote = body.pair.upper().partition("/")
    try:
        row = await overrides.propose_override(
            session=session, base=base, quote=quote, rate=body.rate, reason=body.reason, maker_id=staff.id,
            clock=get_runtime(request).clock, valid_for=timedelta(minutes=body.minutes),
        )  # fmt: skip
    except (OverrideNotAllowed, UnknownPair) as exc:
        await session.rollback()
        raise _refused(exc) from exc
    await session.commit()
    return OverrideOut.of(row)


async def _checked(
    decide: Any, override_id: int, request: Request, session: Any, staff: SignedInStaff
) -> OverrideOut:
    """The checker's decision (approve or reject), committed, or refused with nothing written."""
    try:
        row = await decide(
            session=session, override_id=override_id, checker_id=staff.id, clock=get_runtime(request).clock
        )
    except (OverrideNotAllowed, OverrideNotFound) as exc:
        await session.rollback()
        raise _refused(exc) from exc
    await session.commit()
    return OverrideOut.of(row)


@router.post("/overrides/{override_id}/approve", response_model=OverrideOut)
async def approve(
    override_id: OverrideId, request: Request, session: DbSession, staff: FxStaff
) -> OverrideOut:
    return await _checked(overrides.approve_override, override_id, request, session, staff)


@router.post("/overrides/{override_id}/reject", response_model=OverrideOut)
async def reject(
    override_id: OverrideId, request: Request, session: DbSession, staff: FxStaff
) -> OverrideOut:
    return await _checked(overrides.reject_override, override_id, request, session, staff)
