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

# the API calls' audit rows (this package's own table), from $5, written only if the payout was found;
# a call's row already written (this statement committed, its answer lost, and written again through
# a session) is not written twice: its call_id is unique
_AUDITED = """,
audited AS (
  INSERT INTO mpesa_api_calls
    (call_id, api, path, reference, request, http_status, response, error, duration_ms, created_at)
  SELECT c.call_id, c.api, c.path, c.reference, c.request::json, c.http_status, c.response::json,
         c.error, c.duration_ms, $3
  FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[],
              $12::text[], $13::int[])
       AS c(call_id, api, path, reference, request, http_status, response, error, duration_ms)
  WHERE EXISTS (SELECT 1 FROM accepted)
  ON CONFLICT (call_id) DO NOTHING RETURNING id
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
    `calls` (emptied once written) in one statement; False (nothing written, `calls` kept) when
    there is no such payout. A lost connection (`payouts.adapter.CONNECTION_LOST`) leaves `calls`
    kept and the outcome unknown: the statement may have committed. Everything it writes may be
    written again (the acceptance and the done are idempotent, the audit rows keyed by call)."""
    accepted = await service.accept_at_once(
        connection, payout_id=payout_id, conversation_id=conversation_id, now=now, outbox_id=outbox_id,
        also=_AUDITED,
        also_arguments=[
            [call.call_id for call in calls],
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
