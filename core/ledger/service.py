"""Ledger writes and reads. Keyword-only arguments; the caller's session owns the transaction.

A refused write (insufficient funds, a conflict) leaves nothing half-written even if the caller
goes on to commit other work. On PostgreSQL `post_entry` is one round trip: the `ledger_post_entry`
function (core/ledger/migrations) claims the key, moves constrained balances in sorted id order,
inserts the postings and queues the audit row, its writes undone by its own exception block when
it refuses. On SQLite (the embedded default) the same steps run here, inside a SAVEPOINT.
Money writes' audit rows go through `audit.record_deferred`: on PostgreSQL they do not take the
audit chain's lock, which serialised every ledger write (commit included).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import clock_of
from core.db.raw import run_on_session_connection
from core.ledger import errors
from core.ledger.models import (
    SYSTEM_OWNER_ID,
    Account,
    AccountKind,
    EntryResult,
    Hold,
    HoldResult,
    HoldStatus,
    JournalEntry,
    OwnerType,
    Posting,
    PostingRequest,
)
from core.money import Asset, Money

__all__ = [
    "Movement",
    "available",
    "balance",
    "get_account",
    "get_or_open_account",
    "history",
    "place_hold",
    "post_entry",
    "post_hold",
    "system_account",
    "transfer",
    "void_hold",
]

CONSTRAINED_KINDS = {AccountKind.WALLET.value}


def _insert_for(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    return (sqlite if dialect == "sqlite" else postgresql).insert(table)


def _hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- accounts -------------------------------------------------------------------------------


async def get_or_open_account(
    *,
    session: AsyncSession,
    owner_type: str | OwnerType,
    owner_id: int,
    asset: Asset,
    kind: str | AccountKind = AccountKind.WALLET,
) -> Account:
    """Return the (owner, asset, kind) account, creating it once even under concurrency."""
    owner = OwnerType(owner_type).value
    kind_value = AccountKind(kind).value
    key = {"owner_type": owner, "owner_id": owner_id, "asset": asset.value, "kind": kind_value}
    found = (await session.execute(select(Account).filter_by(**key))).scalar_one_or_none()
    if found is not None:
        return found
    statement = _insert_for(session, Account).values(
        **key,
        constrained=kind_value in CONSTRAINED_KINDS,
        closed=False,
        balance=0,
        pending_out=0,
        rolled_up_to=0,
        created_at=clock_of(session).now(),
    )
    await session.execute(statement.on_conflict_do_nothing())
    return (await session.execute(select(Account).filter_by(**key))).scalar_one()


async def system_account(*, session: AsyncSession, kind: str | AccountKind, asset: Asset) -> Account:
    return await get_or_open_account(
        session=session, owner_type=OwnerType.SYSTEM, owner_id=SYSTEM_OWNER_ID, asset=asset, kind=kind
    )


async def get_account(*, session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise errors.UnknownAccount(f"no ledger account {account_id}")
    return account


async def close_account(*, session: AsyncSession, account_id: int) -> None:
    account = await get_account(session=session, account_id=account_id)
    if await balance(session=session, account_id=account_id) != Money.zero(Asset(account.asset)):
        raise errors.InvalidPosting("only an empty account can be closed")
    account.closed = True


# --- entries --------------------------------------------------------------------------------


Leg = tuple[int, str, int]  # (account id, asset, signed minor units)


def _validate(postings: Sequence[PostingRequest]) -> list[Leg]:
    """The entry's legs in posting order, once each posting is a valid, exact, non-zero amount and
    the entry nets to zero per asset."""
    if len(postings) < 2:
        raise errors.UnbalancedEntry("an entry needs at least two postings")
    nets: dict[str, int] = defaultdict(int)
    legs: list[Leg] = []
    for posting in postings:
        money = posting.amount
        if not isinstance(money, Money):
            raise errors.InvalidPosting("posting amounts must be Money")
        if money.amount == 0:
            raise errors.InvalidPosting("a posting of zero moves nothing")
        scaled = money.amount.scaleb(money.asset.scale)
        if scaled != scaled.to_integral_value():
            raise errors.InvalidPosting(f"{money} has more decimals than its asset allows")
        leg = (posting.account_id, money.asset.value, int(scaled))
        nets[leg[1]] += leg[2]
        legs.append(leg)
    unbalanced = {currency: net for currency, net in nets.items() if net != 0}
    if unbalanced:
        raise errors.UnbalancedEntry(f"entry does not net to zero per asset: {unbalanced}")
    return legs


def _legs_hash(kind: str, legs: Sequence[Leg], details: dict[str, Any]) -> str:
    return _hash({"kind": kind, "legs": sorted(legs), "details": details})


def entry_hash(kind: str, postings: Sequence[PostingRequest], details: dict[str, Any]) -> str:
    """The content an idempotency key is bound to (the same on both databases)."""
    legs = [(p.account_id, p.amount.asset.value, p.amount.minor) for p in postings]
    return _legs_hash(kind, legs, details)


async def _claim_key(
    session: AsyncSession, *, idempotency_key: str, request_hash: str, values: dict[str, Any]
) -> int | None:
    """Insert the entry row; None means the key exists already (checked by the caller)."""
    statement = (
        _insert_for(session, JournalEntry)
        .values(
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            created_at=clock_of(session).now(),
            **values,
        )
        .on_conflict_do_nothing()
        .returning(JournalEntry.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _replay(session: AsyncSession, idempotency_key: str, request_hash: str) -> EntryResult:
    existing = (
        await session.execute(select(JournalEntry).where(JournalEntry.idempotency_key == idempotency_key))
    ).scalar_one()
    if existing.request_hash != request_hash:
        raise errors.IdempotencyConflict(
            f"idempotency key {idempotency_key!r} was already used for a different entry"
        )
    return EntryResult(entry_id=existing.id, replayed=True)


async def _load_accounts(session: AsyncSession, account_ids: set[int]) -> dict[int, Account]:
    rows = (await session.execute(select(Account).where(Account.id.in_(account_ids)))).scalars().all()
    accounts = {account.id: account for account in rows}
    missing = account_ids - accounts.keys()
    if missing:
        raise errors.UnknownAccount(f"no ledger account {sorted(missing)[0]}")
    return accounts


async def _apply_to_constrained(
    session: AsyncSession, accounts: dict[int, Account], postings: Sequence[PostingRequest]
) -> None:
    """Move constrained balances in sorted id order, refusing any that would go below holds."""
    deltas: dict[int, int] = defaultdict(int)
    for posting in postings:
        account = accounts[posting.account_id]
        if account.closed:
            raise errors.AccountClosed(f"ledger account {account.id} is closed")
        if account.asset != posting.amount.asset.value:
            raise errors.InvalidPosting(
                f"account {account.id} holds {account.asset}, not {posting.amount.asset.value}"
            )
        if account.constrained:
            deltas[account.id] += posting.amount.minor
    for account_id in sorted(deltas):
        delta = deltas[account_id]
        statement = update(Account).where(Account.id == account_id).values(balance=Account.balance + delta)
        if delta < 0:
            statement = statement.where(Account.balance + delta >= Account.pending_out)
        result = await session.execute(
            statement.returning(Account.id).execution_options(synchronize_session=False)
        )
        if result.scalar_one_or_none() is None:
            raise errors.InsufficientFunds(f"ledger account {account_id} has insufficient funds")


async def post_entry(
    *,
    session: AsyncSession,
    idempotency_key: str,
    kind: str,
    postings: Sequence[PostingRequest],
    memo: str = "",
    details: dict[str, Any] | None = None,
) -> EntryResult:
    """Post an immutable entry of two or more postings that nets to zero per currency.

    The same key with the same content returns the first result; with different content it
    raises IdempotencyConflict. Constrained accounts never go below their pending holds.
    """
    if not idempotency_key:
        raise errors.InvalidPosting("an idempotency key is required")
    legs = _validate(postings)
    details = details or {}
    request_hash = _legs_hash(kind, legs, details)
    if _is_postgres(session):
        return await _post_entry_pg(
            session, idempotency_key=idempotency_key, request_hash=request_hash, kind=kind,
            memo=memo[:200], details=details, legs=legs,
        )  # fmt: skip
    async with session.begin_nested():
        entry_id = await _claim_key(
            session,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            values={"kind": kind, "memo": memo[:200], "details": details},
        )
        if entry_id is None:
            return await _replay(session, idempotency_key, request_hash)
        accounts = await _load_accounts(session, {p.account_id for p in postings})
        await _apply_to_constrained(session, accounts, postings)
        await session.execute(
            _insert_for(session, Posting),
            [
                {
                    "entry_id": entry_id,
                    "account_id": p.account_id,
                    "asset": p.amount.asset.value,
                    "amount": p.amount.minor,
                }
                for p in postings
            ],
        )
        await _audit_money(session, entry_id=entry_id, kind=kind, key=idempotency_key, postings=postings)
    return EntryResult(entry_id=entry_id)


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


_POST_ENTRY = (
    "SELECT entry_id, outcome, bad_account FROM ledger_post_entry($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)


async def _post_entry_pg(
    session: AsyncSession,
    *,
    idempotency_key: str,
    request_hash: str,
    kind: str,
    memo: str,
    details: dict[str, Any],
    legs: Sequence[Leg],
) -> EntryResult:
    """One round trip on the session's own connection and transaction (asyncpg directly: the
    SQLAlchemy statement machinery cost more CPU than the rest of a posting)."""
    await _flush_pending(session)
    now = clock_of(session).now()
    arguments = (idempotency_key, request_hash, kind, memo, json.dumps(details), *_columns(legs), now)
    row = await run_on_session_connection(session, _POST_ENTRY, arguments)
    entry_id, outcome, account_id = row
    if outcome == "posted":
        return EntryResult(entry_id=entry_id)
    if outcome == "replayed":
        return EntryResult(entry_id=entry_id, replayed=True)
    raise _refusal(outcome, idempotency_key, account_id, legs)


def _columns(legs: Sequence[Leg]) -> tuple[list[int], list[str], list[int]]:
    """Legs as the function's three arrays: account ids, assets, signed minor units."""
    return [leg[0] for leg in legs], [leg[1] for leg in legs], [leg[2] for leg in legs]


def _refusal(outcome: str, idempotency_key: str, account_id: int, legs: Sequence[Leg]) -> errors.LedgerError:
    """The error for a posting the database function refused (nothing was written)."""
    if outcome == "conflict":
        return errors.IdempotencyConflict(
            f"idempotency key {idempotency_key!r} was already used for a different entry"
        )
    if outcome == "insufficient_funds":
        return errors.InsufficientFunds(f"ledger account {account_id} has insufficient funds")
    if outcome == "unknown_account":
        return errors.UnknownAccount(f"no ledger account {account_id}")
    if outcome == "account_closed":
        return errors.AccountClosed(f"ledger account {account_id} is closed")
    asset = next(leg[1] for leg in legs if leg[0] == account_id)
    return errors.InvalidPosting(f"account {account_id} does not hold {asset}")


async def _audit_money(
    session: AsyncSession, *, entry_id: int, kind: str, key: str, postings: Sequence[PostingRequest]
) -> None:
    """Every entry moves money (payment, payout, settlement, deposit, withdrawal, refund...): one
    audit row in the same transaction. Account ids and amounts only: memos and details can hold
    names and phone numbers."""
    legs = [[p.account_id, p.amount.asset.value, p.amount.minor] for p in postings]
    await audit.record_deferred(
        session=session,
        actor="system",
        action=f"money.{kind}"[:100],
        subject=f"ledger_entry:{entry_id}",
        details={"entry_id": entry_id, "idempotency_key": key, "legs": legs},
    )


async def transfer(
    *,
    session: AsyncSession,
    idempotency_key: str,
    from_account_id: int,
    to_account_id: int,
    amount: Money,
    fee: Money | None = None,
    fee_account_id: int | None = None,
    kind: str = "transfer",
    memo: str = "",
    details: dict[str, Any] | None = None,
) -> EntryResult:
    """Move `amount` (plus an optional `fee` to the fee account) out of one account into another."""
    if not amount.is_positive():
        raise errors.InvalidPosting("a transfer must move more than zero")
    if from_account_id == to_account_id:
        raise errors.InvalidPosting("cannot transfer from an account to itself")
    postings = [PostingRequest(to_account_id, amount)]
    total = amount
    if fee is not None and fee.is_positive():
        if fee_account_id is None:
            raise errors.InvalidPosting("a fee needs a fee account")
        postings.append(PostingRequest(fee_account_id, fee))
        total = amount + fee
    postings.insert(0, PostingRequest(from_account_id, -total))
    return await post_entry(
        session=session,
        idempotency_key=idempotency_key,
        kind=kind,
        postings=postings,
        memo=memo,
        details=details,
    )


# --- two-phase holds ------------------------------------------------------------------------


async def place_hold(
    *,
    session: AsyncSession,
    idempotency_key: str,
    account_id: int,
    amount: Money,
    expires_at: datetime | None = None,
    memo: str = "",
    details: dict[str, Any] | None = None,
) -> HoldResult:
    """Reserve funds on a constrained account (pending). Resolve later with post_hold or void_hold."""
    if not amount.is_positive():
        raise errors.InvalidPosting("a hold must reserve more than zero")
    details = details or {}
    request_hash = _hash(
        {"account": account_id, "asset": amount.asset.value, "minor": amount.minor, "details": details}
    )
    if _is_postgres(session):
        return await _place_hold_pg(
            session, idempotency_key=idempotency_key, request_hash=request_hash, account_id=account_id,
            amount=amount, expires_at=expires_at, memo=memo[:200], details=details,
        )  # fmt: skip
    async with session.begin_nested():
        statement = (
            _insert_for(session, Hold)
            .values(
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                account_id=account_id,
                asset=amount.asset.value,
                amount=amount.minor,
                status=HoldStatus.PENDING.value,
                expires_at=expires_at,
                memo=memo[:200],
                details=details,
                created_at=clock_of(session).now(),
            )
            .on_conflict_do_nothing()
            .returning(Hold.id)
        )
        hold_id = (await session.execute(statement)).scalar_one_or_none()
        if hold_id is None:
            existing = (
                await session.execute(select(Hold).where(Hold.idempotency_key == idempotency_key))
            ).scalar_one()
            if existing.request_hash != request_hash:
                raise errors.IdempotencyConflict(
                    f"idempotency key {idempotency_key!r} was used for another hold"
                )
            return HoldResult(hold_id=existing.id, replayed=True)
        account = await get_account(session=session, account_id=account_id)
        if account.closed:
            raise errors.AccountClosed(f"ledger account {account_id} is closed")
        if account.asset != amount.asset.value:
            raise errors.InvalidPosting(
                f"account {account_id} holds {account.asset}, not {amount.asset.value}"
            )
        if not account.constrained:
            raise errors.InvalidPosting("holds are placed on customer or merchant wallets only")
        reserved = await session.execute(
            update(Account)
            .where(Account.id == account_id, Account.balance - Account.pending_out >= amount.minor)
            .values(pending_out=Account.pending_out + amount.minor)
            .returning(Account.id)
            .execution_options(synchronize_session=False)
        )
        if reserved.scalar_one_or_none() is None:
            raise errors.InsufficientFunds(f"ledger account {account_id} has insufficient funds")
    return HoldResult(hold_id=hold_id)


_PLACE_HOLD = "SELECT hold_id, outcome, held_asset FROM ledger_place_hold($1, $2, $3, $4, $5, $6, $7, $8, $9)"


async def _place_hold_pg(
    session: AsyncSession,
    *,
    idempotency_key: str,
    request_hash: str,
    account_id: int,
    amount: Money,
    expires_at: datetime | None,
    memo: str,
    details: dict[str, Any],
) -> HoldResult:
    await _flush_pending(session)
    arguments = (
        idempotency_key, request_hash, account_id, amount.asset.value, amount.minor, expires_at, memo,
        json.dumps(details), clock_of(session).now(),
    )  # fmt: skip
    hold_id, outcome, held = await run_on_session_connection(session, _PLACE_HOLD, arguments)
    if outcome == "placed":
        return HoldResult(hold_id=hold_id)
    if outcome == "replayed":
        return HoldResult(hold_id=hold_id, replayed=True)
    if outcome == "conflict":
        raise errors.IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for another hold")
    if outcome == "unknown_account":
        raise errors.UnknownAccount(f"no ledger account {account_id}")
    if outcome == "account_closed":
        raise errors.AccountClosed(f"ledger account {account_id} is closed")
    if outcome == "wrong_asset":
        raise errors.InvalidPosting(f"account {account_id} holds {held}, not {amount.asset.value}")
    if outcome == "unconstrained":
        raise errors.InvalidPosting("holds are placed on customer or merchant wallets only")
    raise errors.InsufficientFunds(f"ledger account {account_id} has insufficient funds")


async def _flush_pending(session: AsyncSession) -> None:
    if session.dirty or session.new or session.deleted:
        await session.flush()  # the function reads rows this session may have changed


async def _resolve(session: AsyncSession, hold_id: int, status: HoldStatus, now: datetime) -> Hold | None:
    """Flip a pending hold to `status` exactly once; None if someone else resolved it first."""
    flipped = await session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.status == HoldStatus.PENDING.value)
        .values(status=status.value, resolved_at=now)
        .returning(Hold.id)
        .execution_options(synchronize_session=False)
    )
    if flipped.scalar_one_or_none() is None:
        return None
    hold = await session.get(Hold, hold_id, populate_existing=True)
    assert hold is not None
    await session.execute(
        update(Account)
        .where(Account.id == hold.account_id)
        .values(pending_out=Account.pending_out - hold.amount)
        .execution_options(synchronize_session=False)
    )
    return hold


async def _get_hold(session: AsyncSession, hold_id: int) -> Hold:
    hold = await session.get(Hold, hold_id, populate_existing=True)
    if hold is None:
        raise errors.UnknownHold(f"no hold {hold_id}")
    return hold


async def post_hold(
    *,
    session: AsyncSession,
    hold_id: int,
    postings: Sequence[PostingRequest],
    idempotency_key: str,
    kind: str = "hold_post",
    memo: str = "",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> EntryResult:
    """Post a pending hold: the entry is the hold's debit plus `postings` (its other legs).

    At most once: posting again with the same key returns the first entry; posting a voided,
    expired or differently-posted hold raises.
    """
    now = now or clock_of(session).now()
    if _is_postgres(session):
        return await _post_hold_pg(
            session, hold_id=hold_id, postings=postings, idempotency_key=idempotency_key, kind=kind,
            memo=memo, details=details, now=now,
        )  # fmt: skip
    async with session.begin_nested():
        hold = await _get_hold(session, hold_id)
        if hold.status == HoldStatus.POSTED.value:
            entry = await session.get(JournalEntry, hold.resolution_entry_id)
            if entry is not None and entry.idempotency_key == idempotency_key:
                return EntryResult(entry_id=entry.id, replayed=True)
            raise errors.HoldAlreadyResolved(f"hold {hold_id} was already posted")
        if hold.status != HoldStatus.PENDING.value:
            raise errors.HoldAlreadyResolved(f"hold {hold_id} was already {hold.status}")
        if hold.expires_at is not None and hold.expires_at <= now:
            raise errors.HoldExpired(f"hold {hold_id} expired at {hold.expires_at.isoformat()}")
        resolved = await _resolve(session, hold_id, HoldStatus.POSTED, now)
        if resolved is None:
            raise errors.HoldAlreadyResolved(f"hold {hold_id} was resolved concurrently")
        debit = PostingRequest(resolved.account_id, -Money.from_minor(resolved.amount, Asset(resolved.asset)))
        result = await post_entry(
            session=session,
            idempotency_key=idempotency_key,
            kind=kind,
            postings=[debit, *postings],
            memo=memo or resolved.memo,
            details={"hold_id": hold_id, **(details or {})},
        )
        resolved.resolution_entry_id = result.entry_id
    return result


_VOID_HOLD = "SELECT ledger_void_hold($1, $2, $3, $4)"
_HOLD_ROW = "SELECT account_id, asset, amount, memo, expires_at FROM ledger_holds WHERE id = $1"
_POST_HOLD = (
    "SELECT entry_id, outcome, bad_account FROM ledger_post_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)


async def _post_hold_pg(
    session: AsyncSession,
    *,
    hold_id: int,
    postings: Sequence[PostingRequest],
    idempotency_key: str,
    kind: str,
    memo: str,
    details: dict[str, Any] | None,
    now: datetime,
) -> EntryResult:
    """The hold's row read (its debit is one of the entry's legs, hashed here), then one call."""
    await _flush_pending(session)
    hold = await run_on_session_connection(session, _HOLD_ROW, (hold_id,))
    if hold is None:
        raise errors.UnknownHold(f"no hold {hold_id}")
    account_id, asset, minor, hold_memo, expires_at = hold
    debit = PostingRequest(account_id, -Money.from_minor(minor, Asset(asset)))
    legs = _validate([debit, *postings])
    entry_details = {"hold_id": hold_id, **(details or {})}
    arguments = (
        hold_id, idempotency_key, _legs_hash(kind, legs, entry_details), kind, (memo or hold_memo)[:200],
        json.dumps(entry_details), *_columns(legs), now,
    )  # fmt: skip
    entry_id, outcome, bad_account = await run_on_session_connection(session, _POST_HOLD, arguments)
    if outcome == "posted":
        return EntryResult(entry_id=entry_id)
    if outcome == "replayed":
        return EntryResult(entry_id=entry_id, replayed=True)
    if outcome == "unknown_hold":
        raise errors.UnknownHold(f"no hold {hold_id}")
    if outcome == "already_posted":
        raise errors.HoldAlreadyResolved(f"hold {hold_id} was already posted")
    if outcome.startswith("already_"):
        raise errors.HoldAlreadyResolved(f"hold {hold_id} was already {outcome.removeprefix('already_')}")
    if outcome == "expired":
        raise errors.HoldExpired(f"hold {hold_id} expired at {expires_at.isoformat()}")
    raise _refusal(outcome, idempotency_key, bad_account, legs)


async def void_hold(
    *,
    session: AsyncSession,
    hold_id: int,
    reason: str = "",
    now: datetime | None = None,
    expired: bool = False,
) -> bool:
    """Release a pending hold. True if this call voided it; False if it was already voided/expired."""
    now = now or clock_of(session).now()
    if _is_postgres(session):
        await _flush_pending(session)
        status = HoldStatus.EXPIRED if expired else HoldStatus.VOIDED
        arguments = (hold_id, status.value, reason, now)
        outcome = (await run_on_session_connection(session, _VOID_HOLD, arguments))[0]
        if outcome == "unknown_hold":
            raise errors.UnknownHold(f"no hold {hold_id}")
        if outcome == "posted":
            raise errors.HoldAlreadyResolved(f"hold {hold_id} was already posted")
        return bool(outcome == "resolved")
    async with session.begin_nested():
        status = HoldStatus.EXPIRED if expired else HoldStatus.VOIDED
        resolved = await _resolve(session, hold_id, status, now)
        if resolved is not None:
            resolved.details = {**resolved.details, "void_reason": reason}
            await audit.record_deferred(
                session=session, actor="system", action=f"money.hold_{status.value}",
                subject=f"ledger_hold:{hold_id}",
                details={"hold_id": hold_id, "account_id": resolved.account_id, "asset": resolved.asset,
                         "minor": resolved.amount, "reason": reason[:200]},
            )  # fmt: skip
            return True
        hold = await _get_hold(session, hold_id)
        if hold.status == HoldStatus.POSTED.value:
            raise errors.HoldAlreadyResolved(f"hold {hold_id} was already posted")
    return False


async def expire_holds(*, session: AsyncSession, now: datetime) -> int:
    """Void every pending hold whose expiry has passed. Returns how many expired.

    In account id order (each void locks its account's row): the ledger's lock order, so expiring
    holds on two wallets cannot deadlock with a transfer between them."""
    due = (
        (
            await session.execute(
                select(Hold.id)
                .where(Hold.status == HoldStatus.PENDING.value, Hold.expires_at <= now)
                .order_by(Hold.account_id, Hold.id)
            )
        )
        .scalars()
        .all()
    )
    expired = 0
    for hold_id in due:
        expired += await void_hold(session=session, hold_id=hold_id, reason="expired", now=now, expired=True)
    return expired


# --- reads ----------------------------------------------------------------------------------


async def balance(*, session: AsyncSession, account_id: int) -> Money:
    """Posted balance (credit-normal). Unconstrained accounts add postings since their rollup."""
    account = await get_account(session=session, account_id=account_id)
    minor = account.balance
    if not account.constrained:
        since_rollup = await session.execute(
            select(func.coalesce(func.sum(Posting.amount), 0)).where(
                Posting.account_id == account_id, Posting.id > account.rolled_up_to
            )
        )
        minor += int(since_rollup.scalar_one())
    return Money.from_minor(minor, Asset(account.asset))


_OWNER_WALLETS = (
    "SELECT asset, balance - pending_out FROM ledger_accounts"
    " WHERE owner_type = $1 AND owner_id = $2 AND kind = 'wallet'"
)


async def wallet_balances(
    *, session: AsyncSession, owner_type: str | OwnerType, owner_id: int
) -> dict[str, int]:
    """Asset -> what the owner can spend (posted less pending holds, minor units), every wallet in
    one query: wallets are constrained, so their rows hold the posted balance. On PostgreSQL it runs
    on the session's own connection (a USSD balances hop reads this; SQLAlchemy's statement path
    cost more CPU than the query)."""
    owner = OwnerType(owner_type).value
    if _is_postgres(session):
        await _flush_pending(session)
        found = await run_on_session_connection(session, _OWNER_WALLETS, (owner, owner_id), rows=True)
        return {asset: int(minor) for asset, minor in found}
    statement = select(Account.asset, Account.balance - Account.pending_out).where(
        Account.owner_type == owner, Account.owner_id == owner_id, Account.kind == AccountKind.WALLET.value
    )
    return {asset: int(minor) for asset, minor in (await session.execute(statement)).all()}


async def available(*, session: AsyncSession, account_id: int) -> Money:
    """What the owner can spend now: posted balance less pending holds."""
    account = await get_account(session=session, account_id=account_id)
    posted = await balance(session=session, account_id=account_id)
    return posted - Money.from_minor(account.pending_out, Asset(account.asset))


@dataclass(frozen=True)
class Movement:
    entry_id: int
    kind: str
    memo: str
    amount: Money
    created_at: datetime
    details: dict[str, Any]


async def history(
    *, session: AsyncSession, account_id: int, limit: int = 5, before_entry_id: int | None = None
) -> list[Movement]:
    """Newest first: this account's movements, one per entry."""
    query = (
        select(Posting.entry_id, func.sum(Posting.amount), Posting.asset, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .group_by(Posting.entry_id, Posting.asset, JournalEntry.id)
        .order_by(Posting.entry_id.desc())
        .limit(limit)
    )
    if before_entry_id is not None:
        query = query.where(Posting.entry_id < before_entry_id)
    rows = (await session.execute(query)).all()
    return [
        Movement(
            entry_id=entry_id,
            kind=entry.kind,
            memo=entry.memo,
            amount=Money.from_minor(int(total), Asset(asset)),
            created_at=entry.created_at,
            details=entry.details,
        )
        for entry_id, total, asset, entry in rows
    ]
