"""The raw callback log: persisted first (own commit), then processed, flagged when it cannot be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.base import utcnow
from core.payments.models import MpesaCallback


async def record(
    *,
    session: AsyncSession,
    kind: str,
    body: Any,
    raw: str,
    remote_addr: str = "",
    reference: str | None = None,
) -> MpesaCallback:
    row = MpesaCallback(
        kind=kind,
        reference=(reference or None) and reference[:64],
        body=body,
        raw=raw[:100_000],
        remote_addr=remote_addr[:64],
        processed=False,
        flagged=False,
        received_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def finish(*, session: AsyncSession, callback_id: int, outcome: str, flag: str = "") -> None:
    row = await session.get(MpesaCallback, callback_id)
    if row is None:
        return
    row.processed, row.outcome, row.processed_at = True, outcome[:64], utcnow()
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
