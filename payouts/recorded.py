"""A send's acceptance recorded in one autocommitted statement on PostgreSQL (payouts.jobs' hot path).

Daraja accepted the request: the payout becomes `accepted` (core.payments.service.ACCEPT_SQL), its
outbox row is done and the API calls' audit rows are written, all in the one statement's
transaction (data-modifying CTEs: all or nothing), in one round trip. The outbox row and the audit
rows are written only if the payout row was found; if it was not, nothing is written and the
caller falls back to the session path (which raises UnknownPayout).
"""

from __future__ import annotations

import json
from datetime import datetime

from core.payments.service import ACCEPT_SQL, Statements
from payouts.mpesa.client import ApiCall

_THEN_DONE_AND_AUDITED = """,
done AS (
  UPDATE outbox SET status = 'done', done_at = $3
  WHERE id = $4 AND EXISTS (SELECT 1 FROM accepted) RETURNING id
),
audited AS (
  INSERT INTO mpesa_api_calls
    (api, path, reference, request, http_status, response, error, duration_ms, created_at)
  SELECT c.api, c.path, c.reference, c.request::json, c.http_status, c.response::json, c.error,
         c.duration_ms, $3
  FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[],
              $12::int[]) AS c(api, path, reference, request, http_status, response, error, duration_ms)
  WHERE EXISTS (SELECT 1 FROM accepted) RETURNING id
)
SELECT (SELECT count(*) FROM accepted) AS accepted
"""
_ACCEPTED_SQL = "WITH accepted AS (" + ACCEPT_SQL.strip() + ")" + _THEN_DONE_AND_AUDITED


async def record_accepted(
    connection: Statements,
    *,
    payout_id: str,
    conversation_id: str,
    now: datetime,
    outbox_id: int | None,
    calls: list[ApiCall],
) -> bool:
    """Record Daraja's acceptance, the outbox row's done and `calls` (emptied: written once) in one
    statement; False (nothing written, `calls` kept) when there is no such payout."""
    row = await connection.fetchrow(
        _ACCEPTED_SQL,
        payout_id,
        conversation_id,
        now,
        outbox_id,
        [call.api for call in calls],
        [call.path[:120] for call in calls],
        [call.reference[:64] for call in calls],
        [json.dumps(call.request) for call in calls],
        [call.http_status for call in calls],
        [json.dumps(call.response) for call in calls],
        [call.error for call in calls],
        [call.duration_ms for call in calls],
    )
    if row is None or row["accepted"] == 0:
        return False
    calls.clear()
    return True
