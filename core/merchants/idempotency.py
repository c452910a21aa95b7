"""Idempotency-Key records for merchant API POSTs (Stripe semantics): the same key and request give
the stored response again; the same key with another request is refused. Written in the caller's
transaction, beside the work the request did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.merchants.models import ApiIdempotencyKey


async def find(*, session: AsyncSession, merchant_id: int, key: str) -> ApiIdempotencyKey | None:
    query = select(ApiIdempotencyKey).where(
        ApiIdempotencyKey.merchant_id == merchant_id, ApiIdempotencyKey.key == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def remember(
    *,
    session: AsyncSession,
    merchant_id: int,
    key: str,
    request_digest: str,
    status_code: int,
    response: dict[str, Any],
    clock: Clock,
) -> None:
    session.add(
        ApiIdempotencyKey(
            merchant_id=merchant_id,
            key=key,
            request_digest=request_digest,
            status_code=status_code,
            response=response,
            created_at=clock.now(),
        )
    )
    await session.flush()
