"""Idempotency-Key records for merchant API POSTs (Stripe semantics): the same key and request give
the stored response again; the same key with another request is refused. Written in the caller's
transaction, beside the work the request did.

Every merchant API POST with a key reads and writes one row here, so on PostgreSQL both are plain
statements on the session's connection (no ORM statement building, unit-of-work flush or row
objects); SQLite (the embedded default) goes through the ORM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.db.raw import run_on_session_connection
from core.merchants.models import ApiIdempotencyKey

# $1 merchant_id, $2 key: the stored request digest, status code and response (JSON text)
_FIND_SQL = """
SELECT request_digest, status_code, response::text AS response
FROM merchant_api_idempotency WHERE merchant_id = $1 AND key = $2
"""
# $1 merchant_id, $2 key, $3 request digest, $4 status code, $5 response (JSON text), $6 created at
# (aware): the new row's id, or no row when the key is stored already (by a concurrent request)
_REMEMBER_SQL = """
INSERT INTO merchant_api_idempotency (merchant_id, key, request_digest, status_code, response, created_at)
VALUES ($1, $2, $3, $4, $5::text::json, $6)
ON CONFLICT (merchant_id, key) DO NOTHING RETURNING id
"""


@dataclass(frozen=True)
class StoredResponse:
    request_digest: str
    status_code: int
    response: dict[str, Any]


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def find(*, session: AsyncSession, merchant_id: int, key: str) -> StoredResponse | None:
    if _postgresql(session):
        row = await run_on_session_connection(session, _FIND_SQL, [merchant_id, key])
        if row is None:
            return None
        return StoredResponse(row["request_digest"], row["status_code"], json.loads(row["response"]))
    query = select(ApiIdempotencyKey).where(
        ApiIdempotencyKey.merchant_id == merchant_id, ApiIdempotencyKey.key == key
    )
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        return None
    return StoredResponse(found.request_digest, found.status_code, found.response)


async def remember(
    *,
    session: AsyncSession,
    merchant_id: int,
    key: str,
    request_digest: str,
    status_code: int,
    response: dict[str, Any],
    clock: Clock,
) -> bool:
    """Store the response for the key: True, or False when a concurrent request with the same key
    stored its own first (PostgreSQL; on SQLite the flush raises IntegrityError then). Either way the
    caller then rolls back its work and answers the stored response."""
    if _postgresql(session):
        row = await run_on_session_connection(
            session,
            _REMEMBER_SQL,
            [merchant_id, key, request_digest, status_code, json.dumps(response), clock.now()],
        )
        return row is not None
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
    return True
