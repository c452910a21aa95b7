"""RQ jobs (module-level async functions taking ids; run by `kibeti worker payouts` or in-process).

Every job is idempotent: it may run twice (outbox re-dispatch, RQ retry after a crash, a flushed
Redis). Money moves once because (1) the payout row is claimed under a row lock before the call,
(2) Daraja refuses a reused OriginatorConversationID, and (3) a crash or timeout after the call
leaves the payout `unknown`, which only a Transaction Status answer resolves. A claim whose answer
was lost with the database connection is looked up by its own `submitted_at`: this run's claim is
sent at once (nothing went out yet), anything else is not this run's to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from core import runtime
from core.money import Asset, Money
from core.outbox.jobs import marks_row_done
from core.outbox.service import mark_done
from core.payments import callbacks as callback_log
from core.payments import collections, service
from core.payments.errors import UnknownPayout
from core.payments.limits import minor_to_shillings
from core.payments.types import CollectionStatus, PayoutStatus
from core.rails.errors import RailOutcomeUnknown, RailRefused, RailUnavailable
from payouts import c2b, callbacks, recorded
from payouts.adapter import (
    CONNECTION_LOST,
    daraja,
    deferred_audit,
    direct_connection,
    job_scope,
    sessions,
    write_api_calls,
)
from payouts.mpesa import errors
from payouts.mpesa.client import ApiCall
from payouts.stk_rail import RAIL as STK_RAIL
from payouts.stk_rail import DarajaStkRail

log = logging.getLogger(__name__)

RATE_WAIT_S = 20.0
BUSY_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # spike arrest / system busy: back off, then let RQ retry
CLAIM_CHECK_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # a lost claim answer: the database asked again after these
# A statement's or a commit's answer lost with the connection (asyncpg's own, or as SQLAlchemy wraps it)
LOST: tuple[type[BaseException], ...] = (DBAPIError, *CONNECTION_LOST)


class PayoutToSend(Protocol):
    """What a send reads of the payout its claim returned (core.payments.service.Claim.payout)."""

    id: str
    kind: str
    phone: str
    receiver_kind: str
    account_reference: str
    amount_minor: int
    originator_conversation_id: str
    remarks: str


class RetryLater(Exception):
    """Transient: RQ retries the job with back-off (spike arrest, unreachable, no rate token)."""


async def _mark_done(session: Any, outbox_id: int | None) -> None:
    """The outbox row is done in the transaction that records the job's outcome (core.outbox.jobs)."""
    if outbox_id is not None:
        await mark_done(session=session, outbox_id=outbox_id)


async def _send_payout(payout_id: str, outbox_id: int | None = None) -> str:
    """Claim the payout, take a shortcode rate token, send B2C once, record what Daraja said."""
    current = runtime.get()
    limit_minor = current.settings.mpesa_shortcode_daily_limit_kes * 100  # per-shortcode daily value
    async with daraja(current) as d:
        claimed = await _claim_at_once(current, payout_id, limit_minor)
        if claimed is not None:
            return await _sent(d, claimed, outbox_id)
        async with sessions(current)() as session:
            try:
                claim = await service.claim_for_send(
                    session=session, payout_id=payout_id, shortcode_daily_limit_minor=limit_minor,
                    shortcode=current.settings.mpesa_shortcode,
                )  # fmt: skip
            except UnknownPayout:
                log.error("send_payout: no payout %s in this database; dropping the job", payout_id)
                await _mark_done(session, outbox_id)
                await session.commit()
                return "unknown_payout"
            if not claim.send:  # already sent, final, or waiting (daily limit): this job's work is done
                await _mark_done(session, outbox_id)
                await session.commit()
                return claim.payout.status
            payout: PayoutToSend | None = claim.payout
            claimed_at = claim.payout.submitted_at  # this claim's mark, read before the commit expires it
            try:
                await session.commit()
            except LOST as exc:
                log.warning(
                    "payout %s: the claim's commit was lost (%s); asking the database", payout_id, exc
                )
                payout = None
        if payout is None:
            payout = await _own_claim(current, payout_id, claimed_at)
            if payout is None:  # not committed: still `created`, claimed again by RQ's retry
                raise RetryLater(f"the claim of payout {payout_id} was not committed")
        return await _sent(d, payout, outbox_id)


async def _claim_at_once(current: Any, payout_id: str, limit_minor: int) -> PayoutToSend | None:
    """The usual claim, committed in one round trip (or one transaction: the daily value's lock), on
    a `ProcessLoop` with PostgreSQL; None: not claimed there, the session way decides."""
    direct = await direct_connection(current)
    if direct is None:
        return None
    now = current.clock.now()
    try:
        return await service.claim_at_once(
            direct, payout_id=payout_id, now=now, shortcode_daily_limit_minor=limit_minor,
            shortcode=current.settings.mpesa_shortcode,
        )  # fmt: skip
    except CONNECTION_LOST as exc:
        log.warning("payout %s: the claim's answer was lost (%s); asking the database", payout_id, exc)
        return await _own_claim(current, payout_id, now)


async def _own_claim(current: Any, payout_id: str, claimed_at: datetime | None) -> PayoutToSend | None:
    """This run's claim committed, or not: nobody can tell but the database. The payout `submitted`
    at this claim's own `submitted_at` is this run's claim, and its request never went out (only the
    claimant sends, after learning of its claim): the caller sends it now, under its own
    OriginatorConversationID (Daraja refuses a reused one: a send is never made twice). Anything
    else (still `created`, another run's claim, moved on) is not this run's: None. Waits out a short
    outage of the database; past that, RQ's retry finds the payout `submitted` and it goes the
    unknown -> Transaction Status way (the run that claimed it cannot be told apart from one that
    died after sending)."""
    for wait in (*CLAIM_CHECK_BACKOFF_S, None):
        try:
            async with sessions(current)() as session:
                payout = await service.get_payout(session=session, payout_id=payout_id)
            break
        except LOST as exc:
            if wait is None:
                raise RetryLater(
                    f"payout {payout_id}: whether its claim committed is unknown ({exc})"
                ) from exc
            await asyncio.sleep(wait)
    if (
        payout.status == PayoutStatus.SUBMITTED.value
        and claimed_at is not None
        and payout.submitted_at == claimed_at
    ):
        log.warning("payout %s: the claim had committed; sending it now", payout_id)
        return payout
    return None


async def _sent(d: Any, payout: PayoutToSend, outbox_id: int | None) -> str:
    outcome = await _send(d, payout, outbox_id)
    if outcome != "retry":
        return outcome
    raise RetryLater(f"Daraja busy or unreachable for payout {payout.id}")


async def _call(d: Any, payout: PayoutToSend) -> Any:
    """One B2C/B2B request; spike arrest and busy answers back off here, a few times, before giving up."""
    amount = minor_to_shillings(payout.amount_minor)
    for attempt in range(len(BUSY_BACKOFF_S) + 1):
        try:
            if payout.kind == "b2b":
                return await d.client.b2b_payment(
                    originator_conversation_id=payout.originator_conversation_id,
                    receiver_shortcode=payout.phone,
                    receiver_kind=payout.receiver_kind or "till",
                    amount=amount,
                    account_reference=payout.account_reference or payout.id[:13],
                    remarks=payout.remarks,
                )
            return await d.client.b2c_payment(
                originator_conversation_id=payout.originator_conversation_id,
                phone=payout.phone,
                amount=amount,
                remarks=payout.remarks,
            )
        except errors.DarajaBusy:
            if attempt == len(BUSY_BACKOFF_S):
                raise
            await asyncio.sleep(BUSY_BACKOFF_S[attempt])
    raise AssertionError("unreachable")


async def _send(d: Any, payout: PayoutToSend, outbox_id: int | None) -> str:
    """Call Daraja once; what it answered is recorded in one transaction with the call's audit row
    and the outbox row's done."""
    current = runtime.get()
    async with deferred_audit(current) as calls:
        return await _send_recorded(d, payout, outbox_id, calls)


async def _send_recorded(d: Any, payout: PayoutToSend, outbox_id: int | None, calls: list[ApiCall]) -> str:
    current = runtime.get()
    payout_id = payout.id
    try:
        if d.bucket is not None:
            # An OAuth refresh between the rate token and the request would delay this send past
            # the next worker's token, and both would reach Daraja together: refresh first.
            await d.client.ready()
            if not await d.bucket.take(max_wait_s=RATE_WAIT_S):
                reason = f"no shortcode rate token within {RATE_WAIT_S}s"
                return await _in_session(
                    service.release_unsent, payout_id=payout_id, reason=reason, result="retry", calls=calls
                )
        accepted = await _call(d, payout)
    except (errors.DarajaBusy, errors.DarajaUnavailable, errors.DarajaAuthError) as exc:
        # not processed, and nothing wrong with the payout itself: it waits, held, and is sent again
        return await _in_session(
            service.release_unsent, payout_id=payout_id, reason=str(exc), result="retry", calls=calls
        )
    except (errors.DarajaRejected, errors.InvalidMsisdn, ValueError) as exc:
        # a documented "not processed" (or never sent: refused here): the only release of the funds
        code = getattr(exc, "error_code", "") or "rejected"
        async with sessions(current)() as session:
            await service.fail_payout(session=session, payout_id=payout_id, result_code=code, reason=str(exc))
            await _mark_done(session, outbox_id)
            await write_api_calls(session, calls)
            await session.commit()
        return "failed"
    except errors.DarajaError as exc:
        # timeout, 5xx without a Daraja body, duplicate, unknown code: Daraja may have paid. The funds
        # stay held; Transaction Status (the reconciler) decides.
        async with sessions(current)() as session:
            await service.mark_unknown(session=session, payout_id=payout_id, reason=str(exc))
            await _mark_done(session, outbox_id)  # the reconciler owns it now
            await write_api_calls(session, calls)
            await session.commit()
        return "unknown"
    if current.payout_sent_probe is not None:  # tests inject a fault here (a crash before we record it)
        current.payout_sent_probe()
    try:
        direct = await direct_connection(current)
        if direct is not None and await recorded.record_accepted(
            direct, payout_id=payout_id, conversation_id=accepted.conversation_id, now=current.clock.now(),
            outbox_id=outbox_id, calls=calls,
        ):  # fmt: skip
            return "accepted"
    except CONNECTION_LOST as exc:
        # committed or not, nobody can tell: recorded again below (each write in it is idempotent)
        log.warning("payout %s: recording its acceptance lost the connection (%s); again", payout_id, exc)
    async with sessions(current)() as session:
        await service.mark_accepted(
            session=session, payout_id=payout_id, conversation_id=accepted.conversation_id
        )
        await _mark_done(session, outbox_id)
        await write_api_calls(session, calls)
        await session.commit()
    return "accepted"


async def _in_session(
    function: Any, *, result: str, calls: list[ApiCall] | None = None, **kwargs: Any
) -> str:
    async with sessions(runtime.get())() as session:
        await function(session=session, **kwargs)
        if calls:
            await write_api_calls(session, calls)
        await session.commit()
    return result


async def _request_stk_push(collection_id: int, outbox_id: int | None = None) -> str:
    """Push the M-Pesa PIN prompt once. A push that crashed mid-call is never repeated."""
    current = runtime.get()
    async with sessions(current)() as session:
        row = await collections.claim_for_push(session=session, collection_id=collection_id)
        if row is None:  # already pushed, or final: nothing left to do
            await _mark_done(session, outbox_id)
        await session.commit()
    if row is None:
        return "skipped"
    rail = current.collection_rails.get(STK_RAIL) or DarajaStkRail(current)  # the collection-rail port
    try:
        accepted = await rail.start_collection(
            reference=row.reference, phone=row.phone, amount=Money.from_minor(row.amount_minor, Asset.KES),
            description="Kibeti",
        )  # fmt: skip
    except RailOutcomeUnknown as exc:
        # the prompt may have gone out: never pushed again, and not failed here (a callback may
        # still come); the reconciler settles it
        log.warning("STK push for collection %s: outcome unknown (%s)", collection_id, exc)
        async with sessions(current)() as session:
            await _mark_done(session, outbox_id)
            await session.commit()
        return "unknown"
    except RailUnavailable as exc:
        await _in_session(
            collections.release_unpushed, collection_id=collection_id, reason=str(exc), result=""
        )
        raise RetryLater(str(exc)) from exc
    except RailRefused as exc:
        async with sessions(current)() as session:
            await collections.fail_collection(
                session=session, collection_id=collection_id, result_code=exc.provider_code or "rejected",
                reason=str(exc),
            )  # fmt: skip
            await _mark_done(session, outbox_id)
            await session.commit()
        return "failed"
    async with sessions(current)() as session:
        await collections.mark_requested(
            session=session,
            collection_id=collection_id,
            checkout_request_id=accepted.provider_reference,
            merchant_request_id=accepted.provider_request_id,
        )
        await _mark_done(session, outbox_id)
        await session.commit()
    await callbacks.replay_early_stk(sessions(current), accepted.provider_reference)
    return "requested"


async def query_stk(collection_id: int) -> str:
    """Resolve an STK request through STK Query: one whose callback never came, or one a callback
    says is done (`confirming`): only Daraja's answer to our query credits or fails it."""
    current = runtime.get()
    async with sessions(current)() as session:
        row = await collections.get_collection(session=session, collection_id=collection_id)
    if row.status == CollectionStatus.REQUESTING.value:
        async with sessions(current)() as session:
            await collections.fail_collection(
                session=session,
                collection_id=collection_id,
                result_code="push_unknown",
                reason="worker stopped during the STK push; not repeated",
            )
            await session.commit()
        return "failed"
    waiting = (CollectionStatus.REQUESTED.value, CollectionStatus.CONFIRMING.value)
    if row.status not in waiting or not row.checkout_request_id:
        return row.status
    async with daraja(current) as d:
        try:
            status = await d.client.stk_query(checkout_request_id=row.checkout_request_id)
        except errors.StkPending:
            return "pending"
        except errors.DarajaError as exc:  # no answer we can act on: the reconciler asks again
            log.warning("STK query for collection %s: %s", collection_id, exc)
            return "pending"
    async with sessions(current)() as session:
        outcome = await collections.apply_stk_callback(
            session=session,
            checkout_request_id=row.checkout_request_id,
            result_code=status.result_code,
            result_desc=status.result_desc,
            # STK Query confirms the request as made: the amount is the one we asked for
            amount=None if status.result_code != "0" else _requested(row.amount_minor),
            receipt="",
            phone="",
            raw={"stk_query": status.result_code, "desc": status.result_desc},
        )
        await session.commit()
    return outcome


async def _confirm_stk(collection_id: int, outbox_id: int | None = None) -> str:
    outcome = await query_stk(collection_id)
    async with sessions(runtime.get())() as session:
        await _mark_done(session, outbox_id)  # still pending: the reconciler queries it again
        await session.commit()
    return outcome


async def _confirm_c2b(trans_id: str, outbox_id: int | None = None) -> str:
    """Ask Daraja's Transaction Status about a paybill payment a confirmation announced; the result
    callback, matched on this query's ConversationID, books it or not (payouts.c2b)."""
    current = runtime.get()
    async with sessions(current)() as session:
        row = await c2b.pending_payment(session, trans_id)
        if row is None:  # already decided
            await _mark_done(session, outbox_id)
            await session.commit()
            return "done"
    async with daraja(current) as d:
        try:
            accepted = await d.client.transaction_status(transaction_id=trans_id, remarks="paybill")
        except (errors.DarajaBusy, errors.DarajaUnavailable, errors.DarajaAuthError) as exc:
            raise RetryLater(f"Transaction Status for paybill {trans_id}: {exc}") from exc
        except errors.DarajaError as exc:  # maybe asked, maybe not: the reconciler asks again
            log.warning("Transaction Status for paybill %s: %s", trans_id, exc)
            accepted = None
    async with sessions(current)() as session:
        if accepted is not None and accepted.conversation_id:
            await c2b.record_query(
                session,
                trans_id=trans_id,
                originator_id=accepted.originator_conversation_id,
                conversation_id=accepted.conversation_id,
            )
        await _mark_done(session, outbox_id)
        await session.commit()
    if accepted is None or not accepted.conversation_id:
        return "unknown"
    await callbacks.replay_early_status(sessions(current), accepted.originator_conversation_id)
    return "queried"


def _requested(amount_minor: int) -> Decimal:
    return Decimal(amount_minor) / 100


async def _reconcile_stuck_payouts(older_than_s: float | None = None) -> dict[str, int]:
    """Resolve every payout (and STK request, and callback) that has not moved for a while.

    created -> sent again (the outbox job was lost); submitted -> unknown (the worker died mid-call);
    accepted/unknown -> Transaction Status query, answered on the status callback; unknown for 30
    minutes -> one staff alert per payout.
    """
    current = runtime.get()
    age = current.settings.mpesa_reconcile_after_s if older_than_s is None else older_than_s
    cutoff = current.clock.now() - timedelta(seconds=age)
    counts = {"resent": 0, "queried": 0, "stk": 0, "callbacks": 0, "paybill": 0, "long_unknown": 0}
    async with sessions(current)() as session:
        # one staff alert per payout unknown for 30 minutes (staged once: the outbox's dedupe key)
        counts["long_unknown"] = await service.stage_long_unknown_alerts(
            session=session, now=current.clock.now()
        )
        await session.commit()
        stuck = await service.stuck_payouts(session=session, older_than=cutoff)
        pending_stk = await collections.pending_collections(session=session, older_than=cutoff)
        leftovers = await callback_log.unprocessed(session=session, older_than=cutoff)
        pending_paybill = await c2b.stale_payments(session, older_than=cutoff)
    for row in leftovers:
        await callbacks.process(sessions(current), row.id)
        counts["callbacks"] += 1
    for payout in stuck:
        if payout.status == PayoutStatus.CREATED.value:
            current.queue.enqueue(
                service.SEND_JOB,
                job_id=f"payout-{payout.id}-sweep-{int(current.clock.now().timestamp())}",
                kwargs={"payout_id": payout.id},
                queue=service.PAYOUT_QUEUE,
            )
            await _in_session(service.touch, payout_id=payout.id, result="")
            counts["resent"] += 1
            continue
        if payout.status == PayoutStatus.SUBMITTED.value:
            await _in_session(
                service.mark_unknown, payout_id=payout.id, reason="worker stopped mid-call", result=""
            )
        counts["queried"] += await _query_status(payout.id, payout.originator_conversation_id)
    for collection in pending_stk:
        await query_stk(collection.id)
        counts["stk"] += 1
    for trans_id in pending_paybill:  # no status result came (Daraja does not retry): ask again
        with contextlib.suppress(RetryLater):
            await _confirm_c2b(trans_id)
        counts["paybill"] += 1
    return counts


async def _query_status(payout_id: str, ocid: str) -> int:
    current = runtime.get()
    try:
        async with daraja(current) as d:
            accepted = await d.client.transaction_status(originator_conversation_id=ocid)
    except errors.DarajaError as exc:
        log.warning("transaction status for payout %s failed: %s", payout_id, exc)
        return 0
    async with sessions(current)() as session:
        await service.record_status_query(
            session=session, payout_id=payout_id, query_id=accepted.originator_conversation_id
        )
        await session.commit()
    return 1


async def check_account_balance() -> str:
    """Ask for the B2C utility balance; the result callback flags a low float for staff."""
    async with daraja(runtime.get()) as d:
        accepted = await d.client.account_balance()
    return accepted.originator_conversation_id


@marks_row_done
async def send_payout(payout_id: str, outbox_id: int | None = None) -> str:
    """Claim the payout, take a shortcode rate token, send B2C once, record what Daraja said."""
    async with job_scope(runtime.get()):
        return await _send_payout(payout_id, outbox_id)


@marks_row_done
async def request_stk_push(collection_id: int, outbox_id: int | None = None) -> str:
    """Push the M-Pesa PIN prompt once. A push that crashed mid-call is never repeated."""
    async with job_scope(runtime.get()):
        return await _request_stk_push(collection_id, outbox_id)


@marks_row_done
async def confirm_stk(collection_id: int, outbox_id: int | None = None) -> str:
    """An STK callback came: confirm it with our own STK Query before anything is credited."""
    async with job_scope(runtime.get()):
        return await _confirm_stk(collection_id, outbox_id)


@marks_row_done
async def confirm_c2b(trans_id: str, outbox_id: int | None = None) -> str:
    """A paybill confirmation came: ask Transaction Status before anything is credited."""
    async with job_scope(runtime.get()):
        return await _confirm_c2b(trans_id, outbox_id)


async def reconcile_stuck_payouts(older_than_s: float | None = None) -> dict[str, int]:
    """Resolve every payout, STK request and callback that has not moved for a while."""
    async with job_scope(runtime.get()):
        return await _reconcile_stuck_payouts(older_than_s)
