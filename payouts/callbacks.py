"""Apply a Daraja callback: parse defensively, apply through core.payments, flag what cannot be.

Daraja does not retry a callback (PROTOCOLS.md), so a callback is stored before anything else can
fail, then applied: `receive` commits the raw row on its own and applies it in a second transaction
that marks it processed; if applying fails the row stays unprocessed for the reconciler. Only the
answers a Transaction Status query recovers (B2C results and timeouts, status results) are stored and
applied in one transaction, the payout path's hot one: a process that dies before that commit leaves
the payout `accepted`, and the reconciler's status query resolves it. A C2B or STK callback, which
no query of ours would find again, is always stored first. Every outcome is written on the callback
row; problems are flagged for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime
from core.ledger.errors import IdempotencyConflict
from core.outbox import jobs as outbox_jobs
from core.outbox import service as outbox
from core.payments import callbacks as log
from core.payments import collections, service
from payouts import c2b
from payouts.mpesa import results, wire

_log = logging.getLogger(__name__)

# Callbacks whose loss a Transaction Status query recovers (the payout or query they answer stays
# open until its result is recorded): stored and applied in one transaction.
RECOVERED_BY_STATUS_QUERY = frozenset({"b2c_result", "b2c_timeout", "status_result", "status_timeout"})

KINDS = {
    "stk": "stk",
    "b2c/result": "b2c_result",
    "b2c/timeout": "b2c_timeout",
    "b2b/result": "b2c_result",
    "b2b/timeout": "b2c_timeout",
    "status/result": "status_result",
    "status/timeout": "status_timeout",
    "balance/result": "balance_result",
    "balance/timeout": "balance_timeout",
    "c2b/validation": "c2b_validation",
    "c2b/confirmation": "c2b_confirmation",
}
FLAG_OUTCOMES = {
    "unknown_payout",
    "unknown_checkout",
    "amount_mismatch",
    "flagged",
    "conflicting_duplicate",
    "conversation_mismatch",
    "low_float",
    "suspense",
    "c2b_not_confirmed",
}
Outcome = tuple[str, str]  # (outcome, flag reason or "")


def reference_of(kind: str, body: Any) -> str:
    """The correlation id of a callback, best effort (for the log's index)."""
    try:
        if kind == "stk":
            return wire.parse_stk_callback(body).checkout_request_id
        if kind.startswith("c2b"):
            return str(body.get("TransID", "")) if isinstance(body, dict) else ""
        return wire.parse_result(body).originator_conversation_id
    except (wire.MalformedCallback, AttributeError, TypeError, ValueError):
        return ""


async def _stk(session: AsyncSession, body: Any) -> Outcome:
    cb = wire.parse_stk_callback(body)
    outcome = await collections.note_stk_callback(
        session=session,
        checkout_request_id=cb.checkout_request_id,
        result_code=cb.result_code,
        result_desc=cb.result_desc,
        amount=cb.amount,
        receipt=cb.receipt,
        phone=cb.phone,
        raw=body,
    )
    return outcome, (f"stk: {outcome}" if outcome in FLAG_OUTCOMES else "")


async def _b2c(session: AsyncSession, body: Any) -> Outcome:
    result = wire.parse_result(body)
    outcome = await service.apply_payout_result(
        session=session,
        originator_conversation_id=result.originator_conversation_id,
        conversation_id=result.conversation_id,
        result=results.b2c_result(result.result_code, result.result_desc),
        receipt=str(result.parameters.get("TransactionReceipt") or result.transaction_id),
        amount=result.amount,
    )
    return outcome, (f"b2c: {outcome}" if outcome in FLAG_OUTCOMES else "")


async def _timeout(session: AsyncSession, body: Any) -> Outcome:
    result = wire.parse_result(body)
    outcome = await service.apply_timeout(
        session=session, originator_conversation_id=result.originator_conversation_id
    )
    return outcome, ""


async def _status(session: AsyncSession, body: Any) -> Outcome:
    result = wire.parse_result(body)
    paybill = await c2b.apply_paybill_status(session, result)  # our query for a paybill payment?
    if paybill is not None:
        return paybill
    params = result.parameters
    found = result.succeeded and bool(params)
    answer = results.status_result(
        found=found,
        transaction_status=str(params.get("TransactionStatus") or ""),
        transaction_result_code=str(params.get("TransactionResultCode") or ""),
        desc=str(params.get("ReasonType") or result.result_desc),
    )
    outcome = await service.apply_status_answer(
        session=session,
        originator_conversation_id=str(params.get("OriginatorConversationID") or ""),
        status_query_id=result.originator_conversation_id,
        result=answer,
        receipt=str(params.get("ReceiptNo") or result.transaction_id),
        amount=wire.to_decimal(params.get("Amount")),
    )
    return outcome, ""


async def _balance(session: AsyncSession, body: Any) -> Outcome:
    result = wire.parse_result(body)
    lines = wire.parse_account_balance(str(result.parameters.get("AccountBalance", "")))
    utility = next((line.available for line in lines if line.name.lower().startswith("utility")), None)
    if utility is None:
        return "no_utility_line", "balance result without a Utility Account line"
    threshold = runtime.get().settings.mpesa_low_float_kes
    if utility < threshold:
        return "low_float", f"B2C utility float KES {utility} is below KES {threshold}: top up"
    return f"utility={utility}", ""


async def _c2b_validation(session: AsyncSession, body: Any) -> Outcome:
    return await c2b.validate(session, body), ""


async def _c2b_confirmation(session: AsyncSession, body: Any) -> Outcome:
    return await c2b.confirm(session, body)


async def _record_only(session: AsyncSession, body: Any) -> Outcome:
    return "recorded", ""


HANDLERS: dict[str, Callable[[AsyncSession, Any], Awaitable[Outcome]]] = {
    "stk": _stk,
    "b2c_result": _b2c,
    "b2c_timeout": _timeout,
    "status_result": _status,
    "status_timeout": _record_only,
    "balance_result": _balance,
    "balance_timeout": _record_only,
    "c2b_validation": _c2b_validation,
    "c2b_confirmation": _c2b_confirmation,
}


async def _apply(session: AsyncSession, kind: str, body: Any) -> Outcome:
    """Apply one callback in the session's transaction; a malformed or conflicting one is rolled
    back and flagged, never raised."""
    try:
        return await HANDLERS[kind](session, body)
    except (wire.MalformedCallback, AttributeError, TypeError, KeyError) as exc:
        await session.rollback()
        outbox.discard_staged(session)
        return "malformed", f"malformed {kind} callback: {exc!r}"
    except IdempotencyConflict as exc:  # the same receipt booked before with other content
        await session.rollback()
        outbox.discard_staged(session)
        return "conflicting_duplicate", f"{kind}: {exc}"


async def receive(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    kind: str,
    body: Any,
    raw: str,
    remote_addr: str = "",
    reference: str | None = None,
) -> str:
    """Store a callback and apply it; returns the outcome ("" when it is left for the reconciler).
    Raises only if the callback could not be stored at all (Daraja is then not answered "Accepted")."""
    if kind not in RECOVERED_BY_STATUS_QUERY:
        async with session_factory() as session:
            row = await log.record(
                session=session, kind=kind, body=body, raw=raw, remote_addr=remote_addr, reference=reference
            )
            await session.commit()
        try:
            return await process(session_factory, row.id)
        except Exception:  # stored: the reconciler processes it again
            _log.exception("processing M-Pesa callback %s failed; left for the reconciler", row.id)
            return ""
    try:
        async with session_factory() as session:
            staged = outbox.run_after_commit(session)  # e.g. the payout's receipt job: run here, below
            outcome, flag = await _apply(session, kind, body)
            row = await log.record(
                session=session, kind=kind, body=body, raw=raw, remote_addr=remote_addr,
                reference=reference, outcome=outcome, flag=flag,
            )  # fmt: skip
            await session.commit()
    except Exception:
        _log.exception("applying an M-Pesa %s callback failed; storing it unprocessed", kind)
        async with session_factory() as session:
            row = await log.record(
                session=session, kind=kind, body=body, raw=raw, remote_addr=remote_addr, reference=reference
            )
            await session.commit()
        try:
            return await process(session_factory, row.id)
        except Exception:  # stored: the reconciler processes it again
            _log.exception("processing M-Pesa callback %s failed; left for the reconciler", row.id)
            return ""
    await _run_staged(staged)
    return await _replay_if_overtaken(session_factory, row.id, kind, outcome, body)


async def _run_staged(staged: list[outbox.Staged]) -> None:
    """Run the jobs the callback's transaction staged to run here (a payout's receipt job: one RQ
    job fewer per payout). One that fails, or never runs because this process died, stays
    `dispatched`: the relay sends it to the queue once it is overdue (core.outbox.service)."""
    for row in staged:
        try:
            await outbox_jobs.run(row.outbox_id, job=row.job, kwargs=row.kwargs)
        except Exception:
            _log.exception(
                "outbox job %s (row %s) failed here; the relay dispatches it again", row.job, row.outbox_id
            )


async def process(session_factory: async_sessionmaker[AsyncSession], callback_id: int) -> str:
    """Apply one stored callback in its own transaction; malformed bodies are flagged, never raised."""
    async with session_factory() as session:
        found = await log.pending(session=session, callback_id=callback_id)
        if found is None:
            return "already_processed"
        kind, body = found
        outcome, flag = await _apply(session, kind, body)
        await log.finish(session=session, callback_id=callback_id, outcome=outcome, flag=flag)
        await session.commit()
    return await _replay_if_overtaken(session_factory, callback_id, kind, outcome, body)


async def _replay_if_overtaken(
    session_factory: async_sessionmaker[AsyncSession], callback_id: int, kind: str, outcome: str, body: Any
) -> str:
    # the id this callback answers may have been recorded while it ran (the push's or the query's
    # job replays early callbacks the other way round; whichever reopens the row first applies it)
    if await _overtaken(session_factory, kind, outcome, body) and await _reopen(
        session_factory, [callback_id], outcome=outcome
    ):
        return await process(session_factory, callback_id)
    return outcome


async def _overtaken(
    session_factory: async_sessionmaker[AsyncSession], kind: str, outcome: str, body: Any
) -> bool:
    """Whether a callback that found nothing to apply to now would: an STK callback whose
    CheckoutRequestID, or a status result whose query ConversationID, has since been recorded."""
    if (kind, outcome) not in (("status_result", "unknown_payout"), ("stk", "unknown_checkout")):
        return False  # the usual case: no session opened
    try:
        async with session_factory() as session:
            if kind == "status_result" and outcome == "unknown_payout":
                return await c2b.is_our_query(session, wire.parse_result(body).conversation_id)
            if kind == "stk" and outcome == "unknown_checkout":
                checkout = wire.parse_stk_callback(body).checkout_request_id
                return await collections.knows_checkout(session=session, checkout_request_id=checkout)
    except wire.MalformedCallback:
        return False
    return False


async def _reopen(
    session_factory: async_sessionmaker[AsyncSession], ids: list[int], *, outcome: str = "unknown_payout"
) -> list[int]:
    """Mark callbacks processed with `outcome` for processing again; returns the ids this call
    reopened (a conditional update: when two paths race to reopen one row, exactly one wins)."""
    reopened = []
    async with session_factory() as session:
        for callback_id in ids:
            if await log.reopen(session=session, callback_id=callback_id, outcome=outcome):
                reopened.append(callback_id)
        await session.commit()
    return reopened


async def replay_early_stk(
    session_factory: async_sessionmaker[AsyncSession], checkout_request_id: str
) -> list[str]:
    """Apply STK callbacks that overtook the push's own bookkeeping (stored as unknown_checkout,
    because the CheckoutRequestID was not recorded yet), now that it is; returns their outcomes."""
    async with session_factory() as session:
        ids = await log.ids_with_outcome(
            session=session, kind="stk", reference=checkout_request_id, outcome="unknown_checkout"
        )
    reopened = await _reopen(session_factory, ids, outcome="unknown_checkout")
    return [await process(session_factory, callback_id) for callback_id in reopened]


async def replay_early_status(
    session_factory: async_sessionmaker[AsyncSession], query_originator_id: str
) -> list[str]:
    """Apply Transaction Status results that overtook the recording of our query's ids (stored as
    unknown_payout under the query's OriginatorConversationID), now that they are recorded."""
    if not query_originator_id:
        return []
    async with session_factory() as session:
        ids = await log.ids_with_outcome(
            session=session, kind="status_result", reference=query_originator_id, outcome="unknown_payout"
        )
    return [
        await process(session_factory, callback_id) for callback_id in await _reopen(session_factory, ids)
    ]


def validation_reply(outcome: str) -> dict[str, str]:
    """The answer to a C2B validation callback, from its processing outcome."""
    return c2b.validation_reply(outcome)
