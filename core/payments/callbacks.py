"""The raw callback log: every callback stored with its outcome (or unprocessed, for the reconciler),
flagged when it cannot be applied."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.db.raw import run_on_session_connection
from core.payments.models import MpesaCallback

# On PostgreSQL the log's own writes are plain statements on the session's connection (they run for
# every callback: the ORM's unit of work cost more CPU than the statements).
_RECORD_SQL = """
INSERT INTO mpesa_callbacks (kind, reference, body, raw, remote_addr, processed, outcome, flagged,
  flag_reason, received_at, processed_at)
VALUES ($1, $2, $3::text::json, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
"""
_FINISH_SQL = """
UPDATE mpesa_callbacks SET processed = true, outcome = $2, processed_at = $3,
  flagged = flagged OR $4 <> '', flag_reason = CASE WHEN $4 <> '' THEN $4 ELSE flag_reason END
WHERE id = $1
"""
_PENDING_SQL = "SELECT kind, body FROM mpesa_callbacks WHERE id = $1 AND NOT processed"


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def record(
    *,
    session: AsyncSession,
    kind: str,
    body: Any,
    raw: str,
    remote_addr: str = "",
    reference: str | None = None,
    outcome: str | None = None,
    flag: str = "",
) -> MpesaCallback:
    """Store a callback: unprocessed, or (`outcome` given) processed in the caller's transaction,
    flagged with `flag` when it is not empty."""
    now = clock_of(session).now()
    row = MpesaCallback(
        kind=kind,
        reference=(reference or None) and reference[:64],
        body=body,
        raw=raw[:100_000],
        remote_addr=remote_addr[:64],
        processed=outcome is not None,
        outcome=None if outcome is None else outcome[:64],
        flagged=bool(flag),
        flag_reason=flag[:255] or None,
        received_at=now,
        processed_at=None if outcome is None else now,
    )
    if _is_postgres(session):  # the row is not added to the session: returned with its id
        inserted = await run_on_session_connection(
            session,
            _RECORD_SQL,
            [row.kind, row.reference, json.dumps(body), row.raw, row.remote_addr, row.processed, row.outcome,
             row.flagged, row.flag_reason, row.received_at, row.processed_at],
        )  # fmt: skip
        row.id = inserted["id"]
        return row
    session.add(row)
    await session.flush()
    return row


async def pending(*, session: AsyncSession, callback_id: int) -> tuple[str, Any] | None:
    """The kind and body of a callback not processed yet (None: processed, or no such row)."""
    if _is_postgres(session):
        found = await run_on_session_connection(session, _PENDING_SQL, [callback_id])
        return None if found is None else (found["kind"], found["body"])
    row = await session.get(MpesaCallback, callback_id)
    return None if row is None or row.processed else (row.kind, row.body)


async def finish(*, session: AsyncSession, callback_id: int, outcome: str, flag: str = "") -> None:
    now = clock_of(session).now()
    if _is_postgres(session):
        await run_on_session_connection(session, _FINISH_SQL, [callback_id, outcome[:64], now, flag[:255]])
        return
    row = await session.get(MpesaCallback, callback_id)
    if row is None:
        return
    row.processed, row.outcome, row.processed_at = True, outcome[:64], now
    if flag:
        row.flagged, row.flag_reason = True, flag[:255]


async def unprocessed(
    *, session: AsyncSession, older_than: datetime, limit: int = 200
) -> list[MpesaCallback]:
    query = (
        select(MpesaCallback)
        .where(MpesaCallback.processed.is_(False), MpesaCallback.received_at < older_than)
        .order_by(MpesaCallback.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def flagged(*, session: AsyncSession, limit: int = 100) -> list[MpesaCallback]:
    query = (
        select(MpesaCallback)
        .where(MpesaCallback.flagged.is_(True))
        .order_by(MpesaCallback.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def reopen(*, session: AsyncSession, callback_id: int, outcome: str) -> bool:
    """Mark a callback processed with `outcome` for processing again; False if it was not (so when
    two paths race to reopen one row, exactly one wins)."""
    done = await session.execute(
        update(MpesaCallback)
        .where(MpesaCallback.id == callback_id, MpesaCallback.outcome == outcome)
        .values(processed=False, outcome=None, flagged=False, flag_reason=None)
        .execution_options(synchronize_session=False)
    )
    return getattr(done, "rowcount", 0) == 1


async def ids_with_outcome(*, session: AsyncSession, kind: str, reference: str, outcome: str) -> list[int]:
    """The callbacks of `kind` for `reference` processed with `outcome`, oldest first."""
    query = (
        select(MpesaCallback.id)
        .where(
            MpesaCallback.kind == kind,
            MpesaCallback.reference == reference[:64],
            MpesaCallback.outcome == outcome,
        )
        .order_by(MpesaCallback.id)
    )
    return list((await session.execute(query)).scalars().all())
