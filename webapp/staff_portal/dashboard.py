"""The dashboard: volumes today and over 30 days (SVG charts), float against what customers are
owed, queues, payouts in unknown state, KYC waiting, cases and their STR deadlines, scanner lag.
The operational figures are the ones /metrics exports (webapp.observability.snapshot)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from core.auth.permissions import Permission
from core.money import Asset, Money
from webapp.deps_auth import DbSession, get_runtime
from webapp.observability.snapshot import take_snapshot
from webapp.staff_portal import queries
from webapp.staff_portal.auth import PREFIX, may, render, staff_page
from webapp.web import charts, i18n
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AnyStaffPage = Annotated[Page, Depends(staff_page())]


def _chart(volumes: list[queries.Volume], language: str, label: str) -> object:
    bars = [
        (
            f"{v.kind} · {v.asset}",
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
    day = await queries.volumes(session, since=today)
    month = await queries.volumes(session, since=now - timedelta(days=30))
    kyc_pending = await queries.kyc_pending_count(session) if may(page, Permission.KYC_REVIEW) else None
    sla = await queries.case_sla(session, now=now) if may(page, Permission.COMPLIANCE_CASES) else None
    mpesa = await queries.mpesa_float(session) if may(page, Permission.LEDGER_READ) else None
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
    )
