"""A send's acceptance recorded in one autocommitted statement on PostgreSQL (payouts.jobs' hot path).

Daraja accepted the request: the payout becomes `accepted` and its outbox row done (core's
statement, core.payments.service.accept_at_once), and the API calls' audit rows (this package's
table) are written in the same statement's transaction (data-modifying CTEs: all or nothing), one
round trip. The outbox row and the audit rows are written only if the payout row was found; if it
was not, nothing is written and the caller falls back to the session path (raises UnknownPayout).
"""

from __future__ import annotations

import json
from datetime import datetime

from core.payments import service
from core.payments.service import Statements
from payouts.mpesa.client import ApiCall

# the API calls' audit rows (this package's own table), from $5, written only if the payout was found
_AUDITED = """,
audited AS (
  INSERT INTO mpesa_api_calls
    (api, path, reference, request, http_status, response, error, duration_ms, created_at)
  SELECT c.api, c.path, c.reference, c.request::json, c.http_status, c.response::json, c.error,
         c.duration_ms, $3
  FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[],
              $12::int[]) AS c(api, path, reference, request, http_status, response, error, duration_ms)
  WHERE EXISTS (SELECT 1 FROM accepted) RETURNING id
)"""


async def record_accepted(
    connection: Statements,
    *,
    payout_id: str,
    conversation_id: str,
    now: datetime,
    outbox_id: int | None,
    calls: list[ApiCall],
) -> bool:
    """Record Daraja's acceptance, the outbox row's done (core.payments.service.accept_at_once) and
    `calls` (emptied: written once) in one statement; False (nothing written, `calls` kept) when
    there is no such payout."""
    accepted = await service.accept_at_once(
        connection, payout_id=payout_id, conversation_id=conversation_id, now=now, outbox_id=outbox_id,
        also=_AUDITED,
        also_arguments=[
            [call.api for call in calls],
            [call.path[:120] for call in calls],
            [call.reference[:64] for call in calls],
            [json.dumps(call.request) for call in calls],
            [call.http_status for call in calls],
            [json.dumps(call.response) for call in calls],
            [call.error for call in calls],
            [call.duration_ms for call in calls],
        ],
    )  # fmt: skip
    if accepted:
        calls.clear()
    return accepted
