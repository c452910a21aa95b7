"""Read the keyed, hash-chained audit log: GET /api/staff/audit, oldest first from a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from core.audit import service as audit
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from webapp.deps_auth import DbSession, require_permission

router = APIRouter(prefix="/api/staff", tags=["staff"])

AuditStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.AUDIT_READ))]
MAX_PAGE = 200


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str
    key_id: str  # the keyring key whose HMAC seals the row ("" = written before the chain was keyed)


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after_id: int | None  # pass as after_id for the next page; null on the last page


@router.get("/audit")
async def list_audit(
    session: DbSession,
    _staff: AuditStaff,
    after_id: Annotated[int, Query(ge=0, le=2**62, description="Rows with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    action: Annotated[
        str,
        Query(
            max_length=100,
            pattern=r"^[a-z0-9_.]*$",
            description='An action ("case.opened") or a prefix ending in "." ("case.")',
        ),
    ] = "",
) -> AuditPage:
    rows = await audit.list_entries(session=session, after_seq=after_id, limit=limit, action=action)
    entries = [
        AuditEntryOut(
            id=row.seq,
            occurred_at=row.occurred_at,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            details=row.details,
            prev_hash=row.prev_hash,
            entry_hash=row.entry_hash,
            key_id=row.key_id,
        )
        for row in rows
    ]
    return AuditPage(entries=entries, next_after_id=rows[-1].seq if len(rows) == limit else None)
