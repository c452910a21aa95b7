"""Manual FX overrides by finance staff, maker-checker: one person proposes, a different one approves.

Maker and checker are signed-in staff (the staff API, or the CLI after a password + TOTP login):
each id is looked up here and must be an active staff member whose role holds `fx.override`; a
number typed on a command line counts for nothing. Every step is written to the hash-chained audit
log. An approved override is the rate for its pair until `valid_until`, whatever the sources say.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit_service
from core.auth.models import StaffUser
from core.auth.permissions import Permission, has_permission
from core.clock import Clock
from core.fx.errors import OverrideNotAllowed, OverrideNotFound, UnknownPair
from core.fx.models import FxOverride, OverrideStatus
from core.fx.service import QUOTED_PAIRS

MAX_VALIDITY = timedelta(hours=24)


async def _require_finance(session: AsyncSession, staff_id: int) -> StaffUser:
    staff = await session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise OverrideNotAllowed(f"no active staff member {staff_id}")
    if not has_permission(staff.role, Permission.FX_OVERRIDE):
        raise OverrideNotAllowed("only finance staff may set or approve a manual rate")
    return staff


async def propose_override(
    *,
    session: AsyncSession,
    base: str,
    quote: str,
    rate: Decimal | str,
    reason: str,
    maker_id: int,
    clock: Clock,
    valid_for: timedelta = timedelta(hours=1),
) -> FxOverride:
    await _require_finance(session, maker_id)
    base, quote = base.upper(), quote.upper()
    if (base, quote) not in QUOTED_PAIRS:
        raise UnknownPair(f"no rate for {base}/{quote}")
    try:
        value = Decimal(rate)
    except InvalidOperation as exc:
        raise OverrideNotAllowed(f"{rate!r} is not a rate") from exc
    if not value.is_finite() or value <= 0:
        raise OverrideNotAllowed("a rate must be a positive number")
    if not reason.strip():
        raise OverrideNotAllowed("give a reason for the manual rate")
    if not timedelta(0) < valid_for <= MAX_VALIDITY:
        raise OverrideNotAllowed("a manual rate is valid for at most 24 hours")
    row = FxOverride(
        base=base, quote=quote, rate=str(value), reason=reason.strip()[:200], maker_id=maker_id,
        status=OverrideStatus.PENDING.value, valid_seconds=int(valid_for.total_seconds()),
        created_at=clock.now(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await audit_service.record(
        session=session, actor=f"staff:{maker_id}", action="fx.override.proposed",
        subject=f"fx_override:{row.id}", clock=clock,
        details={"pair": f"{base}/{quote}", "rate": row.rate, "reason": row.reason,
                 "valid_seconds": row.valid_seconds},
    )  # fmt: skip
    return row


async def _pending(session: AsyncSession, override_id: int) -> FxOverride:
    row = await session.get(FxOverride, override_id, with_for_update=True)
    if row is None:
        raise OverrideNotFound(f"no manual rate {override_id}")
    if row.status != OverrideStatus.PENDING.value:
        raise OverrideNotAllowed(f"manual rate {override_id} is already {row.status}")
    return row


async def approve_override(
    *, session: AsyncSession, override_id: int, checker_id: int, clock: Clock
) -> FxOverride:
    await _require_finance(session, checker_id)
    row = await _pending(session, override_id)
    if checker_id == row.maker_id:
        raise OverrideNotAllowed("the checker must be a different person from the maker")
    now = clock.now()
    row.status = OverrideStatus.APPROVED.value
    row.checker_id = checker_id
    row.decided_at = now
    row.valid_until = now + timedelta(seconds=row.valid_seconds)
    await session.flush()
    await audit_service.record(
        session=session, actor=f"staff:{checker_id}", action="fx.override.approved",
        subject=f"fx_override:{row.id}", clock=clock,
        details={"pair": f"{row.base}/{row.quote}", "rate": row.rate, "maker_id": row.maker_id,
                 "valid_until": row.valid_until.isoformat()},
    )  # fmt: skip
    return row


async def reject_override(
    *, session: AsyncSession, override_id: int, checker_id: int, clock: Clock
) -> FxOverride:
    await _require_finance(session, checker_id)
    row = await _pending(session, override_id)
    row.status = OverrideStatus.REJECTED.value
    row.checker_id = checker_id
    row.decided_at = clock.now()
    await session.flush()
    await audit_service.record(
        session=session, actor=f"staff:{checker_id}", action="fx.override.rejected",
        subject=f"fx_override:{row.id}", clock=clock, details={"pair": f"{row.base}/{row.quote}"},
    )  # fmt: skip
    return row


async def list_overrides(*, session: AsyncSession, status: str = "", limit: int = 50) -> list[FxOverride]:
    """Newest first; `status` one of pending/approved/rejected, or "" for all."""
    statement = select(FxOverride).order_by(FxOverride.id.desc()).limit(limit)
    if status:
        statement = statement.where(FxOverride.status == status)
    return list((await session.execute(statement)).scalars())
