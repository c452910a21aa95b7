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
from starlette.responses import Response

from core.audit import queries as audit_queries
from core.audit import service as audit
from core.audit.queries import AuditFilter
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


def _audit_filter(filters: AuditFilters | None) -> AuditFilter | None:
    """The form's Nairobi calendar days as the instants the audit query takes."""
    if filters is None:
        return None
    since = datetime.combine(filters.since, time(), NAIROBI) if filters.since else None
    until = datetime.combine(filters.until + timedelta(days=1), time(), NAIROBI) if filters.until else None
    return AuditFilter(
        actor=filters.actor, action=filters.action, subject=filters.subject, since=since, until=until
    )


@router.get("/audit")
async def audit_log(page: AuditPage, session: DbSession) -> Response:
    result = _filters(page)
    found = await audit_queries.audit_page(
        session=session,
        filters=_audit_filter(result.value),
        before=pagination.cursor(page.request.query_params.get("before")),
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
    rows = await audit_queries.newest_entries(
        session=session, filters=_audit_filter(result.value), limit=CSV_LIMIT
    )
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
