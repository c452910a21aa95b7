"""Group commit for transfers on PostgreSQL: many concurrent transfers, one durable transaction.

Callers `await batcher.transfer(...)` as if alone; the batcher gathers whatever arrived while the
previous batch was committing and applies them together:

1. lock the batch's constrained accounts in sorted id order (SELECT ... FOR UPDATE);
2. look up idempotency keys already used (replay, or conflict when the content differs);
3. apply the transfers in arrival order in memory: one that would overdraw is refused alone;
4. insert entries and postings with `unnest` arrays, set the locked balances, commit.

Each caller's future resolves only after the commit, so a transfer is durable when its call
returns. Unconstrained accounts (fees) take postings only: a single fee account is not a hot row.
Same tables and invariants as core.ledger.service; `kibeti ledger verify` checks both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.base import utcnow
from core.ledger import errors
from core.ledger.models import EntryResult, PostingRequest
from core.ledger.service import entry_hash
from core.money import Money

MAX_BATCH = 512


@dataclass
class _Request:
    key: str
    source: int
    target: int
    amount: Money
    fee: Money | None
    fee_account: int | None
    kind: str
    memo: str
    future: asyncio.Future[EntryResult] = field(repr=False)

    @property
    def legs(self) -> list[tuple[int, int]]:
        fee = self.fee.minor if self.fee is not None else 0
        legs = [(self.source, -(self.amount.minor + fee)), (self.target, self.amount.minor)]
        if fee:
            assert self.fee_account is not None
            legs.append((self.fee_account, fee))
        return legs

    @property
    def request_hash(self) -> str:
        asset = self.amount.asset
        postings = [PostingRequest(account, Money.from_minor(minor, asset)) for account, minor in self.legs]
        return entry_hash(self.kind, postings, {})


class TransferBatcher:
    """One per process and engine. Start with `start()`, stop with `close()`."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        if engine.dialect.name != "postgresql":
            raise errors.LedgerError("group commit needs PostgreSQL; use core.ledger.service on SQLite")
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def transfer(
        self,
        *,
        idempotency_key: str,
        from_account_id: int,
        to_account_id: int,
        amount: Money,
        fee: Money | None = None,
        fee_account_id: int | None = None,
        kind: str = "transfer",
        memo: str = "",
    ) -> EntryResult:
        if not amount.is_positive():
            raise errors.InvalidPosting("a transfer must move more than zero")
        if from_account_id == to_account_id:
            raise errors.InvalidPosting("cannot transfer from an account to itself")
        if fee is not None and (fee.asset is not amount.asset or fee.amount < 0):
            raise errors.InvalidPosting("the fee must be a non-negative amount of the same asset")
        if fee is not None and fee.is_positive() and fee_account_id is None:
            raise errors.InvalidPosting("a fee needs a fee account")
        future: asyncio.Future[EntryResult] = asyncio.get_running_loop().create_future()
        fee = fee if fee is not None and fee.is_positive() else None
        self._queue.put_nowait(
            _Request(
                idempotency_key,
                from_account_id,
                to_account_id,
                amount,
                fee,
                fee_account_id,
                kind,
                memo,
                future,
            )
        )
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._apply_with_retry(batch)
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    async def _apply_with_retry(self, batch: list[_Request]) -> None:
        for attempt in range(5):
            try:
                await self._apply(batch)
                return
            except _RaceLost:
                await asyncio.sleep(0.001 * (attempt + 1))
        raise errors.LedgerError("transfer batch kept racing another writer; try again")

    async def _apply(self, batch: list[_Request]) -> None:
        async with self._engine.connect() as sa_connection:
            raw = await sa_connection.get_raw_connection()
            connection: Any = raw.driver_connection
            outcomes: dict[int, _Outcome] = {}
            async with connection.transaction():
                accounts = await _lock_accounts(connection, batch)
                existing = await _existing_keys(connection, [r.key for r in batch])
                accepted = _decide(batch, accounts, existing, outcomes)
                if accepted:
                    ids = await _insert_entries(connection, accepted)
                    if len(ids) != len(accepted):
                        raise _RaceLost  # a concurrent writer took one of our keys: redo the batch
                    await _insert_postings(connection, accepted, ids)
                    await _store_balances(connection, accounts, accepted)
                    for request in accepted:
                        outcomes[id(request)] = EntryResult(entry_id=ids[request.key])
            for request in batch:
                outcome = outcomes[id(request)]
                if request.future.done():
                    continue
                if isinstance(outcome, _Request):
                    first = outcomes[id(outcome)]
                    assert isinstance(first, EntryResult)
                    request.future.set_result(EntryResult(entry_id=first.entry_id, replayed=True))
                elif isinstance(outcome, Exception):
                    request.future.set_exception(outcome)
                else:
                    request.future.set_result(outcome)


class _RaceLost(Exception):
    pass


_Outcome = EntryResult | Exception | _Request


@dataclass
class _Account:
    id: int
    asset: str
    constrained: bool
    closed: bool
    balance: int
    pending_out: int
    dirty: bool = False


async def _lock_accounts(connection: Any, batch: Sequence[_Request]) -> dict[int, _Account]:
    ids = sorted({account for request in batch for account, _ in request.legs})
    rows = await connection.fetch(
        "SELECT id, asset, constrained, closed, balance, pending_out FROM ledger_accounts "
        "WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE",
        ids,
    )
    return {row["id"]: _Account(**dict(row)) for row in rows}


async def _existing_keys(connection: Any, keys: list[str]) -> dict[str, tuple[int, str]]:
    rows = await connection.fetch(
        "SELECT idempotency_key, id, request_hash FROM ledger_entries "
        "WHERE idempotency_key = ANY($1::text[])",
        keys,
    )
    return {row["idempotency_key"]: (row["id"], row["request_hash"]) for row in rows}


def _decide(
    batch: Sequence[_Request],
    accounts: dict[int, _Account],
    existing: dict[str, tuple[int, str]],
    outcomes: dict[int, _Outcome],
) -> list[_Request]:
    """Apply in arrival order, in memory; refusals and replays are settled here, per request."""
    accepted: list[_Request] = []
    first_in_batch: dict[str, _Request] = {}
    for request in batch:
        if request.key in existing:
            entry_id, known_hash = existing[request.key]
            outcomes[id(request)] = (
                EntryResult(entry_id=entry_id, replayed=True)
                if known_hash == request.request_hash
                else errors.IdempotencyConflict(
                    f"idempotency key {request.key!r} was used for a different entry"
                )
            )
            continue
        if request.key in first_in_batch:
            first = first_in_batch[request.key]
            outcomes[id(request)] = (
                first  # resolved from the first one's result once it is committed
                if first.request_hash == request.request_hash
                else errors.IdempotencyConflict(
                    f"idempotency key {request.key!r} was used for a different entry"
                )
            )
            continue
        problem = _check(request, accounts)
        if problem is not None:
            outcomes[id(request)] = problem
            continue
        for account_id, minor in request.legs:
            account = accounts[account_id]
            if account.constrained:
                account.balance += minor
                account.dirty = True
        first_in_batch[request.key] = request
        accepted.append(request)
    return accepted


def _check(request: _Request, accounts: dict[int, _Account]) -> Exception | None:
    for account_id, minor in request.legs:
        account = accounts.get(account_id)
        if account is None:
            return errors.UnknownAccount(f"no ledger account {account_id}")
        if account.closed:
            return errors.AccountClosed(f"ledger account {account_id} is closed")
        if account.asset != request.amount.asset.value:
            return errors.InvalidPosting(f"account {account_id} holds {account.asset}")
        if account.constrained and minor < 0 and account.balance + minor < account.pending_out:
            return errors.InsufficientFunds(f"ledger account {account_id} has insufficient funds")
    return None


async def _insert_entries(connection: Any, accepted: Sequence[_Request]) -> dict[str, int]:
    now = utcnow()
    rows = await connection.fetch(
        "INSERT INTO ledger_entries (idempotency_key, request_hash, kind, memo, details, created_at) "
        "SELECT k, h, t, m, '{}'::json, $5 "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(k, h, t, m) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key, id",
        [r.key for r in accepted],
        [r.request_hash for r in accepted],
        [r.kind for r in accepted],
        [r.memo[:200] for r in accepted],
        now,
    )
    return {row["idempotency_key"]: row["id"] for row in rows}


async def _insert_postings(connection: Any, accepted: Sequence[_Request], ids: dict[str, int]) -> None:
    entry_ids, account_ids, assets, amounts = [], [], [], []
    for request in accepted:
        for account_id, minor in request.legs:
            entry_ids.append(ids[request.key])
            account_ids.append(account_id)
            assets.append(request.amount.asset.value)
            amounts.append(minor)
    await connection.execute(
        "INSERT INTO ledger_postings (entry_id, account_id, asset, amount) "
        "SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[])",
        entry_ids,
        account_ids,
        assets,
        amounts,
    )


async def _store_balances(
    connection: Any, accounts: dict[int, _Account], accepted: Sequence[_Request]
) -> None:
    dirty = [account for account in accounts.values() if account.dirty]
    if not dirty:
        return
    await connection.execute(
        "UPDATE ledger_accounts AS a SET balance = v.balance "
        "FROM unnest($1::int[], $2::bigint[]) AS v(id, balance) WHERE a.id = v.id",
        [account.id for account in dirty],
        [account.balance for account in dirty],
    )
