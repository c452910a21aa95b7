"""The audit log: filters (who, what, when, object), newest first with keyset paging, the chain's
verification (core.audit.service.verify, as GET /api/staff/audit/verify), CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from starlette.responses import Response

from core.audit import service as audit
from core.audit.models import AuditEntry
from core.auth.permissions import Permission
from webapp.deps_auth import DbSession
from webapp.staff_portal.auth import PREFIX, render, staff_page
from webapp.web import forms, pagination
from webapp.web.i18n import NAIROBI
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
AuditPage = Annotated[Page, Depends(staff_page(Permission.AUDIT_READ))]
CSV_LIMIT = 10_000


class AuditFilters(BaseModel):
    actor: str = Field(default="", max_length=100)
    action: str = Field(default="", max_length=100, pattern=r"^[a-z0-9_.]*$")
    subject: str = Field(default="", max_length=200)
    since: date | None = None
    until: date | None = None


def _filters(page: Page) -> forms.FormResult[AuditFilters]:
    wanted = {k: v for k, v in page.request.query_params.items() if k in AuditFilters.model_fields and v}
    return forms.validate(AuditFilters, wanted, page.language)


def _statement(filters: AuditFilters | None) -> Select[tuple[AuditEntry]]:
    statement = select(AuditEntry)
    if filters is None:
        return statement
    if filters.actor:
        statement = statement.where(AuditEntry.actor.startswith(filters.actor, autoescape=True))
    if filters.action:
        column = AuditEntry.action
        prefix = filters.action.endswith(".")
        statement = statement.where(
            column.startswith(filters.action, autoescape=True) if prefix else column == filters.action
        )
    if filters.subject.endswith(":"):  # "merchant:": every object of a kind (a scan)
        statement = statement.where(AuditEntry.subject.startswith(filters.subject, autoescape=True))
    elif filters.subject:  # "customer:42": one object, through ix_audit_log_subject_seq
        statement = statement.where(AuditEntry.subject == filters.subject)
    if filters.since:
        statement = statement.where(
            AuditEntry.occurred_at >= datetime.combine(filters.since, time(), NAIROBI)
        )
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), NAIROBI)
        statement = statement.where(AuditEntry.occurred_at < end)
    return statement


@router.get("/audit")
async def audit_log(page: AuditPage, session: DbSession) -> Response:
    result = _filters(page)
    found = await pagination.fetch(
        session,
        _statement(result.value),
        AuditEntry.seq,
        cursor_value=pagination.cursor(page.request.query_params.get("before")),
    )
    await session.commit()
    query = "&".join(f"{k}={v}" for k, v in result.values.items())
    return render(
        page, "staff/audit.html", entries=found, errors=result.errors, values=result.values, query=query
    )


@router.get("/audit/verify")
async def verify_chain(page: AuditPage, session: DbSession) -> Response:
    checked = await audit.verify(session=session)
    await session.commit()
    return render(page, "staff/audit_verify.html", check=checked)


@router.get("/audit.csv")
async def audit_csv(page: AuditPage, session: DbSession) -> Response:
    result = _filters(page)
    statement = _statement(result.value).order_by(AuditEntry.seq.desc()).limit(CSV_LIMIT)
    rows = (await session.scalars(statement)).all()
    await session.commit()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["seq", "occurred_at", "actor", "action", "subject", "details", "entry_hash"])
    for row in rows:
        writer.writerow(
            [row.seq, row.occurred_at.isoformat(), _cell(row.actor), _cell(row.action), _cell(row.subject),
             _cell(json.dumps(row.details, sort_keys=True)), row.entry_hash]
        )  # fmt: skip
    headers = {"Content-Disposition": 'attachment; filename="kibeti-audit.csv"'}
    return page.respond(Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers))


def _cell(text: str) -> str:
    """No spreadsheet formulas from logged text (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
