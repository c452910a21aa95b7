"""Alerts and cases: filters, open a case from an alert, dismiss, assign, notes, escalate to an
STR with the 2-day deadline counting down, close; the goAML STR XML and the CBK crypto-flows file.
The same compliance services as /api/staff/compliance."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime, time
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from compliance import audit_trail, cases, reports
from compliance import queries as compliance_queries
from compliance.models import AlertStatus, CaseStatus, Disposition
from core.auth.permissions import Permission
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal import labels
from webapp.staff_portal.actions import attempt
from webapp.staff_portal.auth import PREFIX, actor, may, render, staff_of, staff_page
from webapp.web import forms, pagination
from webapp.web.i18n import NAIROBI
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CasesPage = Annotated[Page, Depends(staff_page(Permission.COMPLIANCE_CASES))]
ReportsPage = Annotated[Page, Depends(staff_page(Permission.COMPLIANCE_REPORTS))]
RowId = Annotated[int, Path(ge=1, le=2**62)]
T = TypeVar("T")


class NoteForm(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class AssignForm(BaseModel):
    assignee: str = Field(min_length=3, max_length=80)


class EscalateForm(BaseModel):
    grounds: str = Field(min_length=1, max_length=10000)


class CloseForm(BaseModel):
    disposition: str = Field(pattern="^(" + "|".join(d.value for d in Disposition) + ")$")
    note: str = Field(default="", max_length=5000)


class FilingForm(BaseModel):
    frc_reference: str = Field(min_length=1, max_length=64)
    filed_on: date


class MonthForm(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


def _status_filter(page: Page, name: str, allowed: list[str]) -> str:
    value = page.request.query_params.get(name, "")
    return value if value in allowed else ""


@router.get("/cases")
async def overview(page: CasesPage, session: DbSession) -> Response:
    alert_states = [s.value for s in AlertStatus]
    case_states = [s.value for s in CaseStatus]
    alert_status = _status_filter(page, "alert_status", alert_states) or AlertStatus.OPEN.value
    case_status = _status_filter(page, "case_status", case_states)
    params = page.request.query_params
    alerts = await compliance_queries.alerts_page(
        session=session, status=alert_status, before=pagination.cursor(params.get("abefore"))
    )
    found = await compliance_queries.cases_page(
        session=session, status=case_status, before=pagination.cursor(params.get("before"))
    )
    await session.commit()
    return render(
        page, "staff/cases.html", alerts=alerts, cases=found, alert_states=alert_states,
        case_states=case_states, alert_status=alert_status, case_status=case_status, errors={}, values={},
        **labels.helpers(page.language),
    )  # fmt: skip


def closing_dispositions(status: str) -> list[str]:
    """The dispositions cases.close accepts from `status`: a reported case closes only as STR filed,
    an open one as anything else, an escalated or drafted one not at all (its STR must be filed)."""
    if status == CaseStatus.REPORTED.value:
        return [Disposition.STR_FILED.value]
    if status in {s.value for s in cases.OPEN_STATES}:
        return [d.value for d in Disposition if d is not Disposition.STR_FILED]
    return []


async def _case_page(page: Page, session: DbSession, case_id: int, **extra: Any) -> Response:
    try:
        detail = await cases.case_detail(session=session, case_id=case_id)
    except LookupError as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    found = await compliance_queries.case_reports(session=session, case_id=case_id)
    await session.commit()
    context: dict[str, Any] = {"errors": {}, "values": {}, "error": "", "form": ""}
    context.update(extra)
    return render(
        page, "staff/case.html", status=422 if context["error"] or context["errors"] else 200,
        detail=detail, reports=found, dispositions=closing_dispositions(detail.case.status),
        alert_states=[s.value for s in AlertStatus],
        may_report=may(page, Permission.COMPLIANCE_REPORTS), **labels.helpers(page.language), **context,
    )  # fmt: skip


@router.get("/cases/{case_id}")
async def case_page(case_id: RowId, page: CasesPage, session: DbSession) -> Response:
    return await _case_page(page, session, case_id)


async def _write(
    page: Page, session: DbSession, case_id: int, form: str, work: Awaitable[T], notice: str
) -> Response:
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _case_page(page, session, case_id, error=outcome.error, form=form)
    return page.redirect(f"{PREFIX}/cases/{case_id}", notice=notice)


@router.post("/alerts/{alert_id}/open-case")
async def open_case(alert_id: RowId, page: CasesPage, session: DbSession) -> Response:
    alert = await compliance_queries.find_alert(session=session, alert_id=alert_id)
    if alert is None:
        raise WebError(404, "web.error.not_found", page.language)
    outcome = await attempt(
        session,
        cases.open_case(
            session=session,
            title=alert.summary[:200],
            actor=actor(staff_of(page)),
            now=page.now,
            alert_ids=[alert_id],
        ),
        page.language,
    )
    if outcome.value is None:
        raise WebError(409, "web.error.conflict", page.language)
    return page.redirect(f"{PREFIX}/cases/{outcome.value.id}", notice="staff.notice.case_opened")


@router.post("/alerts/{alert_id}/dismiss")
async def dismiss(alert_id: RowId, page: CasesPage, session: DbSession) -> Response:
    result = await forms.parse(NoteForm, await page.request.form(), page.language)
    if result.value is None:
        return page.redirect(f"{PREFIX}/cases", notice="staff.notice.note_needed")
    outcome = await attempt(
        session,
        cases.dismiss_alert(
            session=session,
            alert_id=alert_id,
            actor=actor(staff_of(page)),
            note=result.value.text,
            now=page.now,
        ),
        page.language,
    )
    if not outcome.ok:
        raise WebError(409, "web.error.conflict", page.language)
    return page.redirect(f"{PREFIX}/cases", notice="staff.notice.alert_dismissed")


@router.post("/cases/{case_id}/assign")
async def assign(case_id: RowId, page: CasesPage, session: DbSession) -> Response:
    result = await forms.parse(AssignForm, await page.request.form(), page.language)
    if result.value is None:
        return await _case_page(
            page, session, case_id, errors=result.errors, values=result.values, form="assign"
        )
    work = cases.assign(
        session=session,
        case_id=case_id,
        assignee=result.value.assignee,
        actor=actor(staff_of(page)),
        now=page.now,
    )
    return await _write(page, session, case_id, "assign", work, "staff.notice.case_assigned")


@router.post("/cases/{case_id}/notes")
async def note(case_id: RowId, page: CasesPage, session: DbSession) -> Response:
    result = await forms.parse(NoteForm, await page.request.form(), page.language)
    if result.value is None:
        return await _case_page(
            page, session, case_id, errors=result.errors, values=result.values, form="note"
        )
    work = cases.add_note(
        session=session, case_id=case_id, actor=actor(staff_of(page)), text=result.value.text, now=page.now
    )
    return await _write(page, session, case_id, "note", work, "staff.notice.note_added")


@router.post("/cases/{case_id}/escalate")
async def escalate(case_id: RowId, page: CasesPage, session: DbSession) -> Response:
    result = await forms.parse(EscalateForm, await page.request.form(), page.language)
    if result.value is None:
        return await _case_page(
            page, session, case_id, errors=result.errors, values=result.values, form="escalate"
        )
    work = cases.escalate(
        session=session,
        case_id=case_id,
        actor=actor(staff_of(page)),
        grounds=result.value.grounds,
        now=page.now,
    )
    return await _write(page, session, case_id, "escalate", work, "staff.notice.case_escalated")


@router.post("/cases/{case_id}/close")
async def close(case_id: RowId, page: CasesPage, session: DbSession) -> Response:
    result = await forms.parse(CloseForm, await page.request.form(), page.language)
    if result.value is None:
        return await _case_page(
            page, session, case_id, errors=result.errors, values=result.values, form="close"
        )
    work = cases.close(
        session=session, case_id=case_id, disposition=result.value.disposition, note=result.value.note,
        actor=actor(staff_of(page)), now=page.now,
    )  # fmt: skip
    return await _write(page, session, case_id, "close", work, "staff.notice.case_closed")


@router.post("/cases/{case_id}/str")
async def export_str(case_id: RowId, page: ReportsPage, session: DbSession) -> Response:
    work = reports.export_str(
        session=session,
        case_id=case_id,
        actor=actor(staff_of(page)),
        now=page.now,
        settings=get_runtime(page.request).settings.compliance,
    )
    return await _write(page, session, case_id, "str", work, "staff.notice.str_ready")


@router.post("/reports/{report_id}/filing")
async def record_filing(report_id: RowId, page: ReportsPage, session: DbSession) -> Response:
    """The drafted STR was filed with the FRC: its reference and the filing day (Nairobi)."""
    report = await compliance_queries.find_report(session=session, report_id=report_id)
    if report is None or report.case_id is None:
        raise WebError(404, "web.error.not_found", page.language)
    case_id = report.case_id
    result = await forms.parse(FilingForm, await page.request.form(), page.language)
    if result.value is None:
        return await _case_page(
            page, session, case_id, errors=result.errors, values=result.values, form="filing"
        )
    filed_at = datetime.combine(result.value.filed_on, time(0), tzinfo=NAIROBI)  # the day began in Nairobi
    work = reports.record_str_filing(
        session=session, report_id=report_id, frc_reference=result.value.frc_reference, filed_at=filed_at,
        actor=actor(staff_of(page)), now=page.now,
    )  # fmt: skip
    return await _write(page, session, case_id, "filing", work, "staff.notice.str_filed")


@router.get("/reports/{report_id}/xml")
async def report_xml(report_id: RowId, page: ReportsPage, session: DbSession) -> Response:
    try:
        report = await reports.get_report(session=session, report_id=report_id)
    except LookupError as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    await audit_trail.record_read(
        session=session, actor=actor(staff_of(page)), action="report.downloaded",
        subject=f"report:{report.id}", now=page.now, details={"reference": report.reference},
    )  # fmt: skip
    headers = {"Content-Disposition": f'attachment; filename="{report.reference}.xml"'}
    return page.respond(Response(report.xml, media_type="application/xml", headers=headers))


@router.get("/reports/crypto-flows")
async def crypto_flows(page: ReportsPage, session: DbSession) -> Response:
    """The CBK crypto-flows file for a month (Nairobi time), as compliance.reports builds it."""
    result = forms.validate(MonthForm, dict(page.request.query_params), page.language)
    if result.value is None:
        raise WebError(400, "web.error.bad_request", page.language)
    year, month = (int(part) for part in result.value.month.split("-"))
    start = datetime.combine(date(year, month, 1), time(), NAIROBI)
    end = datetime.combine(date(year + month // 12, month % 12 + 1, 1), time(), NAIROBI)
    content = await reports.crypto_flows_csv(session=session, start=start, end=end)
    await audit_trail.record_read(
        session=session, actor=actor(staff_of(page)), action="report.crypto_flows_downloaded",
        subject=f"month:{result.value.month}", now=page.now,
    )  # fmt: skip
    headers = {"Content-Disposition": f'attachment; filename="kibeti-crypto-flows-{result.value.month}.csv"'}
    return page.respond(Response(content, media_type="text/csv; charset=utf-8", headers=headers))
