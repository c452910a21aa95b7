"""The dashboard: volumes today and over 30 days (SVG charts), float against what customers are
owed, queues, payouts in unknown state, KYC waiting, cases and their STR deadlines, scanner lag.
The operational figures are the ones /metrics exports (webapp.observability.snapshot)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from compliance import queries as compliance_queries
from core.auth.permissions import Permission
from core.errors import InvalidAmount
from core.ledger import queries as ledger_queries
from core.ledger.queries import Volume
from core.money import Asset, Money
from core.payments import queries as payment_queries
from core.runtime import Runtime
from webapp.deps_auth import DbSession, get_runtime
from webapp.observability.snapshot import take_snapshot
from webapp.staff_portal import labels
from webapp.staff_portal.auth import PREFIX, may, render, staff_page
from webapp.web import charts, i18n
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AnyStaffPage = Annotated[Page, Depends(staff_page())]
# The volume charts aggregate every posting of the period (a million rows at scale): each figure is
# recomputed at most once a minute per process, so a room of staff reloading the page costs one query.
VOLUME_TTL = timedelta(seconds=60)
_volumes: dict[tuple[int, datetime], tuple[datetime, list[Volume]]] = {}


async def cached_volumes(
    session: AsyncSession, runtime: Runtime, since: datetime, now: datetime
) -> list[Volume]:
    key = (id(runtime), since)
    found = _volumes.get(key)
    if found is not None and found[0] > now:
        return found[1]
    value = await ledger_queries.volumes(session=session, since=since)
    if len(_volumes) > 64:
        _volumes.clear()
    _volumes[key] = (now + VOLUME_TTL, value)
    return value


def _chart(volumes: list[Volume], language: str, label: str) -> object:
    bars = [
        (
            f"{labels.label_text('entry', v.kind, language)} · {v.asset}",
            Money.from_minor(v.minor, Asset(v.asset)).amount / _scale(v.asset),
            i18n.money_minor(v.minor, v.asset, language),
        )
        for v in volumes
        if v.asset in Asset._value2member_map_
    ]
    return charts.bar_chart(bars, label=label)


def _scale(asset: str) -> Decimal:
    """Bars compare within one chart: crypto amounts are scaled to a rough KES size so a chart of
    mixed assets stays readable (the text beside each bar is the exact amount)."""
    return Decimal(1) if asset == "KES" else Decimal("0.0001")


@router.get("")
async def dashboard(page: AnyStaffPage, session: DbSession) -> Response:
    runtime = get_runtime(page.request)
    now = page.now
    today = now.astimezone(i18n.NAIROBI).replace(hour=0, minute=0, second=0, microsecond=0)
    day = await cached_volumes(session, runtime, today, now)
    month = await cached_volumes(session, runtime, today - timedelta(days=29), now)  # 30 calendar days
    kyc_pending = (
        await compliance_queries.kyc_pending_count(session=session)
        if may(page, Permission.KYC_REVIEW)
        else None
    )
    sla = (
        await compliance_queries.case_sla(session=session, now=now)
        if may(page, Permission.COMPLIANCE_CASES)
        else None
    )
    mpesa = await payment_queries.mpesa_float(session=session) if may(page, Permission.LEDGER_READ) else None
    await session.commit()
    snapshot = await take_snapshot(runtime)
    t = page.language
    return render(
        page,
        "staff/dashboard.html",
        day=day,
        month=month,
        day_chart=_chart(day, t, i18n.text("staff.dash.today", t)),
        month_chart=_chart(month, t, i18n.text("staff.dash.month", t)),
        snapshot=snapshot,
        kyc_pending=kyc_pending,
        sla=sla,
        show_money=may(page, Permission.LEDGER_READ),
        mpesa=mpesa,
        mpesa_available=_kes_text(mpesa.available, t) if mpesa else "",
        **labels.helpers(t),
    )


def _kes_text(available: str, language: str) -> str:
    """M-Pesa's float figure ("1000000.00") as the portal writes money, or as reported if it is not one."""
    try:
        return i18n.money(Money.of(available, Asset.KES), language)
    except InvalidAmount:
        return f"KES {available}"
