"""Compliance actions appended to the hash-chained audit log (core/audit), in the caller's
transaction. Rows name staff by id and customers by id: no names, ID numbers or free-text notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import FixedClock


def audit_actor(actor: str) -> str:
    """`staff:3:amina@example.com` (the case-event actor) -> `staff:3`; other actors unchanged."""
    parts = actor.split(":")
    return ":".join(parts[:2]) if parts[0] == "staff" and len(parts) > 2 else actor


async def record(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session=session,
        actor=audit_actor(actor),
        action=action,
        subject=subject,
        details=details or {},
        clock=FixedClock(now),
    )


async def record_read(
    *,
    session: AsyncSession,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit a read of KYC data or a document (who saw whose), committed before the data is sent:
    a read that cannot be audited is not served."""
    await record(session=session, actor=actor, action=action, subject=subject, now=now, details=details)
    await session.commit()
