"""Payouts (B2C/B2B): hold + row + outbox in the caller's transaction, then a monotonic state machine.

created -> submitted -> accepted -> succeeded | failed, with `unknown` for timeouts, crashes and
duplicates (a Transaction Status query decides). A final status never changes; the hold is posted
or voided exactly once, inside the same transaction as the status change.
"""

from __future__ import annotations

import uuid
import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.db.raw import run_on_session_connection
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox import handlers
from core.outbox import service as outbox
from core.outbox.models import OutboxJob
from core.payments import limits
from core.payments.errors import PaymentConflict, PayoutDailyLimit, UnknownPayout
from core.payments.models import FINAL_PAYOUT, IN_FLIGHT_PAYOUT, Payout, PayoutStatus
from core.payments.outcomes import RailOutcome, RailResult

SEND_JOB = "payouts.jobs.send_payout"
# Staged when a payout reaches a final status, if the use-case layer defines it (receipt SMS).
FINISHED_JOB = "core.flows.jobs.payout_finished"
# The same for a merchant's settlement payout (statement, merchant SMS, staff alert on failure).
SETTLEMENT_FINISHED_JOB = "core.settlements.jobs.settlement_finished"
PAYOUT_QUEUE = "payouts"
# A payout unknown this long gets one staff alert (docs/OPERATIONS.md: "still unknown after 30 minutes").
LONG_UNKNOWN_AGE = timedelta(minutes=30)
LONG_UNKNOWN_JOB = handlers.PAYOUT_LONG_UNKNOWN
NAIROBI_OFFSET = timedelta(hours=3)


async def create_payout(
    *,
    session: AsyncSession,
    idempotency_key: str,
    account_id: int,
    phone: str,
    amount: Money,
    customer_id: int | None = None,
    merchant_id: int | None = None,
    remarks: str = "",
    kind: str = "b2c",
    fee: Money | None = None,
    receiver_kind: str = "",
    account_reference: str = "",
) -> Payout:
    """Hold the funds, write the payout row and its outbox job, in the caller's transaction (no commit).

    Fractional shillings are not sent: the hold covers the whole shillings, the cents stay available.
    `fee` is what the customer was charged for this payout (already booked to fee revenue by the
    caller): a failed payout refunds it with the principal.
    The same idempotency key returns the first payout; with different content it raises PaymentConflict.
    """
    send = limits.payout_amount(amount)
    party_b = limits.msisdn(phone) if kind == "b2c" else phone.strip()
    existing = (
        await session.execute(select(Payout).where(Payout.idempotency_key == idempotency_key))
    ).scalar_one_or_none()
    if existing is not None:
        same = (existing.account_id, existing.phone, existing.amount_minor) == (
            account_id,
            party_b,
            send.minor,
        )
        if not same:
            raise PaymentConflict(f"idempotency key {idempotency_key!r} was used for another payout")
        return existing
    if customer_id is not None:
        await _check_daily(session, customer_id, send)
    payout_id = uuid.uuid4().hex
    now = clock_of(session).now()
    payout = Payout(
        id=payout_id,
        idempotency_key=idempotency_key,
        kind=kind,
        customer_id=customer_id,
        merchant_id=merchant_id,
        account_id=account_id,
        phone=party_b,
        amount_minor=send.minor,
        fee_minor=fee.minor if fee is not None and fee.is_positive() else 0,
        receiver_kind=receiver_kind if kind == "b2b" else "",
        account_reference=account_reference[:20] if kind == "b2b" else "",
        hold_id=0,
        status=PayoutStatus.CREATED.value,
        originator_conversation_id=payout_id,
        remarks=(remarks or "Kibeti payout")[:100],
        attempts=0,
        flagged=False,
        created_at=now,
        updated_at=now,
    )
    session.add(payout)
    # The row goes first: on SQLite (pysqlite) a SAVEPOINT opened outside a transaction commits on
    # release, so the hold's nested transaction must run inside the one this INSERT begins.
    await session.flush()
    hold = await ledger.place_hold(
        session=session,
        idempotency_key=f"payout:{idempotency_key}",
        account_id=account_id,
        amount=send,
        memo=f"M-Pesa payout {payout_id}",
        details={"payout_id": payout_id},
    )
    payout.hold_id = hold.hold_id
    await session.flush()
    await stage_send(session=session, payout=payout)
    return payout


async def stage_send(*, session: AsyncSession, payout: Payout) -> None:
    await outbox.enqueue(
        session=session,
        job=SEND_JOB,
        kwargs={"payout_id": payout.id},
        dedupe_key=f"payout:{payout.id}:send:{payout.originator_conversation_id}:{payout.attempts}",
        queue=PAYOUT_QUEUE,
    )


async def _check_daily(session: AsyncSession, customer_id: int, amount: Money) -> None:
    since = clock_of(session).now() - timedelta(days=1)
    sent = (
        await session.execute(
            select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(
                Payout.customer_id == customer_id,
                Payout.created_at >= since,
                Payout.status != PayoutStatus.FAILED.value,
            )
        )
    ).scalar_one()
    if int(sent) + amount.minor > limits.CUSTOMER_DAILY_MAX.minor:
        raise PayoutDailyLimit("this payout would pass the M-Pesa daily limit of KES 500,000")


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def get_payout(*, session: AsyncSession, payout_id: str, lock: bool = False) -> Payout:
    query = select(Payout).where(Payout.id == payout_id).execution_options(populate_existing=True)
    if lock and _is_postgres(session):
        query = query.with_for_update()
    payout = (await session.execute(query)).scalar_one_or_none()
    if payout is None:
        raise UnknownPayout(f"no payout {payout_id}")
    return payout


async def find_payout(*, session: AsyncSession, originator_conversation_id: str) -> Payout | None:
    query = select(Payout).where(Payout.originator_conversation_id == originator_conversation_id)
    if _is_postgres(session):
        query = query.with_for_update()
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


def _touch(payout: Payout, status: PayoutStatus, now: datetime) -> None:
    """The status change; `unknown_since` set on entering unknown (kept while it stays unknown),
    cleared on leaving it."""
    if status != PayoutStatus.UNKNOWN:
        payout.unknown_since = None
    elif payout.status != PayoutStatus.UNKNOWN.value or payout.unknown_since is None:
        payout.unknown_since = now
    payout.status = status.value
    payout.updated_at = now


@dataclass(frozen=True)
class Claim:
    """What the worker should do with a payout it picked up."""

    send: bool
    payout: Payout


async def shortcode_sent_today(*, session: AsyncSession, now: datetime) -> int:
    """KES minor units sent or in flight since midnight, Nairobi time (the shortcode's daily value)."""
    midnight = _midnight_nairobi(now)
    query = select(func.coalesce(func.sum(Payout.amount_minor), 0)).where(
        Payout.submitted_at >= midnight,
        Payout.status.in_([*IN_FLIGHT_PAYOUT, PayoutStatus.SUCCEEDED.value]),
    )
    return int((await session.execute(query)).scalar_one())


# created -> submitted in one statement (the common case: within M-Pesa's limits and the shortcode's
# daily value); it returns what the send needs. No row: the full check below decides. The claim is
# kibeti_claim_payout() (payments_0008, PostgreSQL): under a daily value limit it first takes the
# transaction-scoped advisory lock on (shortcode, Nairobi day), then sums today's payouts in a
# statement of its own, so two claims never both pass the limit (Safaricom caps a shortcode at about
# 200 requests an hour: serialising its claims costs nothing). The lock and the sum cannot be one SQL
# statement: its snapshot predates the lock, and it would sum without the claim it waited for.
# Autocommitted (claim_at_once), the lock lasts exactly as long as that one statement: no client
# holds it while the server waits on it. In a session's transaction (claim_for_send) it is held until
# the caller's commit or rollback; that transaction is ended by the server once it sits idle for
# CLAIM_IDLE_TIMEOUT (a job abandoned inside it: RQ's job timeout leaves the event loop and its
# connection open until garbage-collected). SQLite's BEGIN IMMEDIATE serialises claims already.
# ($1 payout, $2 now, $3..$4 M-Pesa's limits, $5 daily limit or NULL, $6 Nairobi midnight, $7 the
# statuses that count, $8..$9 the lock's keys, $10 the idle timeout or NULL)
_CLAIM_SQL = """
SELECT id, kind, phone, receiver_kind, account_reference, amount_minor, status,
       originator_conversation_id, remarks, attempts, hold_id, customer_id, merchant_id, submitted_at
FROM kibeti_claim_payout($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
CLAIM_IDLE_TIMEOUT = "15s"


def _midnight_nairobi(now: datetime) -> datetime:
    return (now + NAIROBI_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0) - NAIROBI_OFFSET


def _daily_lock_keys(shortcode: str, now: datetime) -> list[int]:
    """The lock's two int4 keys: the shortcode's CRC-32 (signed) and the Nairobi day's ordinal."""
    crc = zlib.crc32(f"kibeti:payouts:daily-value:{shortcode}".encode())
    return [crc - (1 << 32) if crc >= 1 << 31 else crc, (now + NAIROBI_OFFSET).date().toordinal()]


class Statements(Protocol):
    """An asyncpg connection in autocommit (each statement its own transaction, unless in `transaction()`)."""

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> Any: ...

    def transaction(self) -> Any: ...


def _claim_arguments(
    payout_id: str, now: datetime, shortcode_daily_limit_minor: int | None, shortcode: str, *, held: bool
) -> list[Any]:
    """_CLAIM_SQL's arguments; `held`: in a transaction the caller commits (the idle timeout set)."""
    return [payout_id, now, limits.B2C_MIN.minor, limits.TXN_MAX.minor, shortcode_daily_limit_minor,
            _midnight_nairobi(now), [*IN_FLIGHT_PAYOUT, PayoutStatus.SUCCEEDED.value],
            *_daily_lock_keys(shortcode, now), CLAIM_IDLE_TIMEOUT if held else None]  # fmt: skip


async def claim_at_once(
    connection: Statements,
    *,
    payout_id: str,
    now: datetime,
    shortcode_daily_limit_minor: int | None = None,
    shortcode: str = "",
) -> Payout | None:
    """The usual claim (created -> submitted, within M-Pesa's limits and the shortcode's daily value)
    on PostgreSQL: the payout to send, committed as `submitted` (`submitted_at` = `now`), or None, and
    then `claim_for_send` decides. One autocommitted statement, the (shortcode, day) lock of a daily
    value limit taken and released inside it (the connection must not be in a transaction)."""
    arguments = _claim_arguments(payout_id, now, shortcode_daily_limit_minor, shortcode, held=False)
    row = await connection.fetchrow(_CLAIM_SQL, *arguments)
    return None if row is None else Payout(**dict(row))


async def claim_for_send(
    *,
    session: AsyncSession,
    payout_id: str,
    shortcode_daily_limit_minor: int | None = None,
    shortcode: str = "",
) -> Claim:
    """created -> submitted (send it); submitted from an earlier crashed run -> unknown (query first).

    On PostgreSQL the usual claim is one statement (kibeti_claim_payout); whatever it does not
    match (another status, M-Pesa's limits, the daily value, no such payout) goes the full way.
    Under a daily value limit that statement takes the (shortcode, day) lock first, held until the
    caller's commit or rollback."""
    now = clock_of(session).now()
    if _is_postgres(session):
        arguments = _claim_arguments(payout_id, now, shortcode_daily_limit_minor, shortcode, held=True)
        row = await run_on_session_connection(session, _CLAIM_SQL, arguments)
        if row is not None:
            return Claim(send=True, payout=Payout(**dict(row)))
    payout = await get_payout(session=session, payout_id=payout_id, lock=True)
    if payout.status == PayoutStatus.CREATED.value:
        money = Money.from_minor(payout.amount_minor, Asset.KES)
        if money < limits.B2C_MIN or money > limits.TXN_MAX:  # re-checked: limits may have changed
            await _fail(session, payout, "limit", f"amount {money} is outside M-Pesa's limits")
            return Claim(send=False, payout=payout)
        if shortcode_daily_limit_minor is not None:
            sent = await shortcode_sent_today(session=session, now=now)
            if sent + payout.amount_minor > shortcode_daily_limit_minor:
                payout.result_desc = "shortcode daily value limit reached: waiting"
                payout.updated_at = now
                return Claim(send=False, payout=payout)
        _touch(payout, PayoutStatus.SUBMITTED, now)
        payout.attempts += 1
        payout.submitted_at = now
        return Claim(send=True, payout=payout)
    if payout.status == PayoutStatus.SUBMITTED.value:
        _touch(payout, PayoutStatus.UNKNOWN, now)  # a previous run may have reached Daraja
        payout.result_desc = "worker stopped during the Daraja call"
    return Claim(send=False, payout=payout)


async def release_unsent(*, session: AsyncSession, payout_id: str, reason: str) -> None:
    """submitted -> created: Daraja never took the request (busy, unreachable); it may be sent again."""
    await session.execute(
        update(Payout)
        .where(Payout.id == payout_id, Payout.status == PayoutStatus.SUBMITTED.value)
        .values(
            status=PayoutStatus.CREATED.value, result_desc=reason[:255], updated_at=clock_of(session).now()
        )
        .execution_options(synchronize_session=False)
    )


# Daraja accepted the request: submitted/unknown -> accepted, its ConversationID kept (first one wins).
# ($1 payout id, $2 ConversationID, $3 now; payouts.recorded runs it in one statement with the outbox
# row's done and the call's audit row.)
ACCEPT_SQL = """
UPDATE payouts SET conversation_id = coalesce(conversation_id, $2),
  status = CASE WHEN status IN ('submitted', 'unknown') THEN 'accepted' ELSE status END,
  accepted_at = CASE WHEN status IN ('submitted', 'unknown') THEN $3 ELSE accepted_at END,
  unknown_since = CASE WHEN status IN ('submitted', 'unknown') THEN NULL ELSE unknown_since END,
  updated_at = CASE WHEN status IN ('submitted', 'unknown') THEN $3 ELSE updated_at END
WHERE id = $1 RETURNING id
"""


_ACCEPTED_THEN_OUTBOX_DONE = (  # constant fragments, no input
    "WITH accepted AS (" + ACCEPT_SQL.strip() + "),\n"  # noqa: S608
    "done AS (" + outbox.done_if_sql(row="$4", at="$3", when="EXISTS (SELECT 1 FROM accepted)") + ")"
)


async def accept_at_once(
    connection: Statements,
    *,
    payout_id: str,
    conversation_id: str,
    now: datetime,
    outbox_id: int | None,
    also: str = "",
    also_arguments: Sequence[Any] = (),
) -> bool:
    """Daraja accepted the request: the payout `accepted` and the send's outbox row done, in one
    autocommitted statement on PostgreSQL (data-modifying CTEs: all or nothing). `also` adds the
    caller's own CTEs (",\nname AS (...)", parameters from $5 in `also_arguments`), to be written
    only `WHERE EXISTS (SELECT 1 FROM accepted)`. False, nothing written, when there is no such payout."""
    row = await connection.fetchrow(
        _ACCEPTED_THEN_OUTBOX_DONE + also + "\nSELECT (SELECT count(*) FROM accepted) AS accepted",  # noqa: S608
        payout_id, conversation_id, now, outbox_id, *also_arguments,
    )  # fmt: skip
    return row is not None and row["accepted"] > 0


async def mark_accepted(*, session: AsyncSession, payout_id: str, conversation_id: str) -> None:
    if _is_postgres(session):
        now = clock_of(session).now()
        if await run_on_session_connection(session, ACCEPT_SQL, [payout_id, conversation_id, now]) is None:
            raise UnknownPayout(f"no payout {payout_id}")
        return
    payout = await get_payout(session=session, payout_id=payout_id, lock=True)
    payout.conversation_id = payout.conversation_id or conversation_id
    if payout.status in (PayoutStatus.SUBMITTED.value, PayoutStatus.UNKNOWN.value):
        now = clock_of(session).now()
        _touch(payout, PayoutStatus.ACCEPTED, now)
        payout.accepted_at = now


async def mark_unknown(*, session: AsyncSession, payout_id: str, reason: str) -> None:
    now = clock_of(session).now()
    since = case(
        (Payout.status == PayoutStatus.UNKNOWN.value, func.coalesce(Payout.unknown_since, now)), else_=now
    )
    await session.execute(
        update(Payout)
        .where(Payout.id == payout_id, Payout.status.in_(IN_FLIGHT_PAYOUT))
        .values(
            status=PayoutStatus.UNKNOWN.value, result_desc=reason[:255], updated_at=now, unknown_since=since
        )
        .execution_options(synchronize_session=False)
    )


async def fail_payout(*, session: AsyncSession, payout_id: str, result_code: str, reason: str) -> bool:
    """Any non-final -> failed, voiding the hold. False if it was already final."""
    payout = await get_payout(session=session, payout_id=payout_id, lock=True)
    return await _fail(session, payout, result_code, reason)


async def _fail(session: AsyncSession, payout: Payout, result_code: str, reason: str) -> bool:
    """Failed: everything the payout took goes back, in this transaction: the held principal is
    released and the payout fee refunded (`refund_failed_payout`)."""
    if payout.status in FINAL_PAYOUT:
        return False
    now = clock_of(session).now()
    await ledger.void_hold(session=session, hold_id=payout.hold_id, reason=f"payout failed: {reason}"[:200])
    await refund_failed_payout(session=session, payout=payout)
    _touch(payout, PayoutStatus.FAILED, now)
    payout.result_code, payout.result_desc, payout.finished_at = result_code, reason[:255], now
    await _stage_finished(session, payout)
    return True


async def refund_failed_payout(*, session: AsyncSession, payout: Payout) -> None:
    """The one ledger entry of a failed payout: its fee back from fee revenue to the wallet it came
    from, recording the principal released with it (the principal was only held, never posted)."""
    if payout.fee_minor <= 0:
        return
    fee = Money.from_minor(payout.fee_minor, Asset.KES)
    revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=Asset.KES)
    await ledger.post_entry(
        session=session,
        idempotency_key=f"payout:{payout.id}:refund",
        kind="mpesa_payout_refund",
        postings=[PostingRequest(revenue.id, -fee), PostingRequest(payout.account_id, fee)],
        memo=f"M-Pesa payout {payout.id} failed: fee refunded, principal released"[:200],
        details={
            "payout_id": payout.id,
            "principal_minor": payout.amount_minor,
            "fee_minor": payout.fee_minor,
        },
    )


def returned_on_failure(payout: Payout) -> Money:
    """What a failed payout gave back to the wallet: the principal and the fee."""
    return Money.from_minor(payout.amount_minor + payout.fee_minor, Asset.KES)


async def _succeed(session: AsyncSession, payout: Payout, receipt: str, result_code: str, desc: str) -> bool:
    if payout.status in FINAL_PAYOUT:
        return False
    now = clock_of(session).now()
    await _post_payout_hold(session, payout, receipt)
    _touch(payout, PayoutStatus.SUCCEEDED, now)
    payout.receipt, payout.result_code, payout.result_desc, payout.finished_at = (
        receipt,
        result_code,
        desc,
        now,
    )
    await _stage_finished(session, payout)
    return True


# The M-Pesa float account's id per PostgreSQL engine: a system account never changes once open, so
# it is looked up once per process instead of once per payout. PostgreSQL only: the lookup may open
# the account in a transaction that later rolls back, and SQLite hands a rolled-back id to the next
# account opened (a customer's wallet would then take every payout's credit); PostgreSQL's ids are
# never reused, so a rolled-back one fails the next posting (unknown account) and is looked up again.
_float_accounts: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()


async def _float_account_id(session: AsyncSession) -> int:
    engine = getattr(session.bind, "sync_engine", None)
    if engine is not None and engine.dialect.name != "postgresql":
        engine = None
    if engine is not None and engine in _float_accounts:
        return _float_accounts[engine]
    account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES)
    if engine is not None:
        _float_accounts[engine] = account.id
    return account.id


async def _post_payout_hold(session: AsyncSession, payout: Payout, receipt: str) -> None:
    """Paid: the held amount goes to the M-Pesa float account (at most once: the key)."""
    float_account_id = await _float_account_id(session)
    try:
        await ledger.post_hold(
            session=session,
            hold_id=payout.hold_id,
            postings=[PostingRequest(float_account_id, Money.from_minor(payout.amount_minor, Asset.KES))],
            idempotency_key=f"payout:{payout.id}:post",
            kind="mpesa_payout",
            memo=f"M-Pesa payout {payout.id} {receipt}"[:200],
            details={"payout_id": payout.id, "receipt": receipt},
        )
    except Exception:
        # the id may be one a rolled-back transaction opened: the next payout looks it up again
        engine = getattr(session.bind, "sync_engine", None)
        if engine is not None:
            _float_accounts.pop(engine, None)
        raise


async def _stage_finished(session: AsyncSession, payout: Payout) -> None:
    """Tell the customer (receipt or failure SMS) through the use-case layer, once per payout: jobs are
    staged by name in the outbox (the runner imports them), never imported from here."""
    if payout.merchant_id is not None:
        await outbox.enqueue(
            session=session,
            job=SETTLEMENT_FINISHED_JOB,
            kwargs={"payout_id": payout.id},
            dedupe_key=f"payout:{payout.id}:settlement-finished",
        )
    if payout.customer_id is None:
        return
    await outbox.enqueue(
        session=session,
        job=FINISHED_JOB,
        kwargs={"payout_id": payout.id},
        dedupe_key=f"payout:{payout.id}:finished",
        here=True,  # a callback's own process runs it after its commit (payouts.callbacks.receive)
    )


def _flag(payout: Payout, reason: str) -> None:
    payout.flagged = True
    payout.flag_reason = reason[:255]


# The usual success: one conditional UPDATE takes the row lock and records the result; anything
# it does not match (unknown id, final, another conversation, another amount) goes the full way.
_SUCCEED_SQL = """
UPDATE payouts SET status = 'succeeded', conversation_id = coalesce(conversation_id, nullif($2, '')),
  receipt = $3, result_code = $4, result_desc = $5, finished_at = $6, updated_at = $6, unknown_since = NULL
WHERE originator_conversation_id = $1 AND status NOT IN ('succeeded', 'failed')
  AND ($2 = '' OR conversation_id IS NULL OR conversation_id = $2)
  AND ($7::bigint IS NULL OR amount_minor = $7)
RETURNING id, hold_id, amount_minor, customer_id, merchant_id, account_id, fee_minor
"""


async def _succeed_at_once(
    session: AsyncSession,
    originator_conversation_id: str,
    conversation_id: str,
    result: RailResult,
    receipt: str,
    amount: Decimal | None,
) -> bool:
    expected = None if amount is None else amount * 100
    if expected is not None and expected != expected.to_integral_value():
        return False
    now = clock_of(session).now()
    row = await run_on_session_connection(
        session,
        _SUCCEED_SQL,
        [originator_conversation_id, conversation_id or "", receipt, result.code, result.reason[:255], now,
         None if expected is None else int(expected)],
    )  # fmt: skip
    if row is None:
        return False
    payout = Payout(**dict(row))
    await _post_payout_hold(session, payout, receipt)
    await _stage_finished(session, payout)
    return True


async def apply_payout_result(
    *,
    session: AsyncSession,
    originator_conversation_id: str,
    conversation_id: str,
    result: RailResult,
    receipt: str,
    amount: Decimal | None,
) -> str:
    """Apply a payout's result from its rail exactly once; returns the outcome for the callback row."""
    if (
        result.outcome == RailOutcome.SUCCEEDED
        and _is_postgres(session)
        and await _succeed_at_once(
            session, originator_conversation_id, conversation_id, result, receipt, amount
        )
    ):
        return "succeeded"
    payout = await find_payout(session=session, originator_conversation_id=originator_conversation_id)
    if payout is None:
        return "unknown_payout"
    if conversation_id and payout.conversation_id and conversation_id != payout.conversation_id:
        _flag(payout, f"result for conversation {conversation_id}, expected {payout.conversation_id}")
        return "conversation_mismatch"
    payout.conversation_id = payout.conversation_id or conversation_id or None
    succeeded = result.outcome == RailOutcome.SUCCEEDED
    if payout.status in FINAL_PAYOUT:
        agrees = (payout.status == PayoutStatus.SUCCEEDED.value) == succeeded
        if not agrees:
            _flag(payout, f"late result {result.code} disagrees with {payout.status}")
        return "duplicate" if agrees else "conflicting_duplicate"
    if succeeded:
        if amount is not None and amount * 100 != payout.amount_minor:
            _flag(payout, f"paid amount {amount} differs from the payout")
            _touch(payout, PayoutStatus.UNKNOWN, clock_of(session).now())
            payout.result_desc = "amount mismatch: staff review"
            return "amount_mismatch"
        await _succeed(session, payout, receipt, result.code, result.reason)
        return "succeeded"
    if result.outcome == RailOutcome.RETRY:
        await _retry_with_new_id(session, payout, result.code, result.reason)
        return "retry"
    if result.outcome == RailOutcome.UNKNOWN:  # the rail may have paid: never released on this
        _touch(payout, PayoutStatus.UNKNOWN, clock_of(session).now())
        payout.result_code, payout.result_desc = (
            result.code[:32],
            f"result {result.code}: {result.reason}"[:255],
        )
        return "unknown"
    await _fail(session, payout, result.code, result.reason)
    return "failed"


async def _retry_with_new_id(session: AsyncSession, payout: Payout, result_code: str, desc: str) -> None:
    """Daraja refused it without paying (system busy): send again under a fresh OriginatorConversationID."""
    payout.originator_conversation_id = f"{payout.id}-r{payout.attempts}"
    payout.conversation_id = None
    payout.result_code, payout.result_desc = result_code, desc[:255]
    _touch(payout, PayoutStatus.CREATED, clock_of(session).now())
    await stage_send(session=session, payout=payout)


async def apply_timeout(*, session: AsyncSession, originator_conversation_id: str) -> str:
    """A QueueTimeOutURL notice: the outcome is unknown, never a failure."""
    payout = await find_payout(session=session, originator_conversation_id=originator_conversation_id)
    if payout is None:
        return "unknown_payout"
    if payout.status in FINAL_PAYOUT:
        return "already_final"
    await mark_unknown(session=session, payout_id=payout.id, reason="Daraja queue timeout")
    return "unknown"


async def record_status_query(*, session: AsyncSession, payout_id: str, query_id: str) -> None:
    """A Transaction Status query was sent: updated_at is when it was last asked (stuck_payouts'
    cadence); unknown_since is left alone."""
    await session.execute(
        update(Payout)
        .where(Payout.id == payout_id)
        .values(status_query_id=query_id, updated_at=clock_of(session).now())
        .execution_options(synchronize_session=False)
    )


async def apply_status_answer(
    *,
    session: AsyncSession,
    originator_conversation_id: str,
    status_query_id: str,
    result: RailResult | None,
    receipt: str,
    amount: Decimal | None,
) -> str:
    """A status query answered (`result` None: the rail does not know the payout): succeeded or
    failed as it says; an unknown answer leaves it unknown and held (asked again later, never
    released on it); not found and never accepted -> sent again under the same id."""
    payout = None
    if originator_conversation_id:
        payout = await find_payout(session=session, originator_conversation_id=originator_conversation_id)
    if payout is None and status_query_id:
        query = select(Payout).where(Payout.status_query_id == status_query_id)
        payout = (await session.execute(query)).scalar_one_or_none()
    if payout is None:
        return "unknown_payout"
    if payout.status in FINAL_PAYOUT:
        return "already_final"
    if result is not None and result.outcome == RailOutcome.SUCCEEDED:
        return await apply_payout_result(
            session=session,
            originator_conversation_id=payout.originator_conversation_id,
            conversation_id="",
            result=result,
            receipt=receipt,
            amount=amount,
        )
    if result is not None and result.outcome == RailOutcome.RETRY:
        await _retry_with_new_id(session, payout, result.code, result.reason)
        return "retry"
    if result is not None and result.outcome == RailOutcome.UNKNOWN:  # may yet be paid: never released
        _touch(payout, PayoutStatus.UNKNOWN, clock_of(session).now())
        payout.result_code, payout.result_desc = result.code[:32], result.reason[:255]
        return "unknown"
    if result is not None:  # found, not completed: the rail says it did not pay
        await _fail(session, payout, result.code, result.reason or "the rail reports the payout failed")
        return "failed"
    if (
        payout.status in (PayoutStatus.UNKNOWN.value, PayoutStatus.SUBMITTED.value)
        and not payout.conversation_id
    ):
        _touch(payout, PayoutStatus.CREATED, clock_of(session).now())
        payout.result_desc = "not found at M-Pesa: sending again"
        await stage_send(session=session, payout=payout)
        return "resend"
    return "not_found"


async def stuck_payouts(*, session: AsyncSession, older_than: datetime, limit: int = 200) -> list[Payout]:
    """Payouts without a final status that have not moved since `older_than`."""
    query = (
        select(Payout)
        .where(
            Payout.status.in_([*IN_FLIGHT_PAYOUT, PayoutStatus.CREATED.value]), Payout.updated_at < older_than
        )
        .order_by(Payout.updated_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def stage_long_unknown_alerts(*, session: AsyncSession, now: datetime, limit: int = 200) -> int:
    """One staff alert per payout unknown for LONG_UNKNOWN_AGE or more, staged by name in the outbox
    (the composition root's handler raises it, once per payout: its own dedupe key). A payout whose
    alert is already staged is skipped (and the outbox's dedupe key stages it once anyway), so every
    scheduler run, and a restart, stages only the newly due. Returns how many it staged."""
    since = func.coalesce(Payout.unknown_since, Payout.updated_at)  # a row without it: its updated_at
    staged_already = select(OutboxJob.id).where(
        OutboxJob.dedupe_key == literal("payout:") + Payout.id + literal(":long-unknown")
    )
    due = (
        await session.scalars(
            select(Payout.id)
            .where(
                Payout.status == PayoutStatus.UNKNOWN.value,
                since <= now - LONG_UNKNOWN_AGE,
                ~staged_already.exists(),
            )
            .order_by(since)
            .limit(limit)
        )
    ).all()
    for payout_id in due:
        await outbox.enqueue(
            session=session, job=LONG_UNKNOWN_JOB, kwargs={"payout_id": payout_id},
            dedupe_key=f"payout:{payout_id}:long-unknown",
        )  # fmt: skip
    return len(due)


async def touch(*, session: AsyncSession, payout_id: str) -> None:
    await session.execute(
        update(Payout)
        .where(Payout.id == payout_id)
        .values(updated_at=clock_of(session).now())
        .execution_options(synchronize_session=False)
    )
