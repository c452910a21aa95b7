"""Wallet reads: balances with their KES value, and the mini statement; the customer a phone number
belongs to (a USSD session's first hop)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
from datetime import datetime
from decimal import ROUND_UP, Decimal
from typing import Any, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import telemetry
from core.clock import Clock
from core.errors import KibetiError
from core.flows.errors import LimitRateUnavailable
from core.flows.types import BalanceLine, CustomerView, StatementLine
from core.fx import service as fx
from core.fx.errors import RatesUnavailable
from core.fx.policy import FxPolicy
from core.identity import flows as identity_flows
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType
from core.ledger.service import Movement
from core.money import Asset, Money

WALLET_ASSETS = (Asset.KES, Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)


async def wallet_account_id(session: AsyncSession, customer_id: int, asset: Asset) -> int:
    account = await ledger.get_or_open_account(
        session=session,
        owner_type=OwnerType.CUSTOMER,
        owner_id=customer_id,
        asset=asset,
        kind=AccountKind.WALLET,
    )
    return int(account.id)


RATE_CACHE_SECONDS = 5.0
_rates: dict[tuple[object, str], tuple[float, Decimal | None]] = {}
_refreshing: set[tuple[object, str]] = set()
# When each cached bid's rate goes stale (quotes' age rule): after a failed refresh the cached bid is
# shown until then, never later (an hour-old bid is not "the rate a few seconds ago").
_usable_until: dict[tuple[object, str], datetime] = {}
# A read of the bids that failed on the database (not "no rate": that is RatesUnavailable): the
# balances screen still shows the balances, with the bid read before (or no KES value).
_READ_FAILURES = (SQLAlchemyError, OSError, TimeoutError)
log = logging.getLogger(__name__)


async def _read_bid(
    session: AsyncSession, key: tuple[object, str], clock: Clock, *, tolerate_failure: bool
) -> Decimal | None:
    """Read `key`'s bid from the database into the cache: None when there is no fresh rate. A
    database error raises, unless `tolerate_failure` (a balances screen): then the cached bid stays."""
    try:
        rate = await fx.latest_rate(session=session, base=key[1], quote="KES", clock=clock)
    except KibetiError:
        bid: Decimal | None = None
    except _READ_FAILURES as error:
        if not tolerate_failure:
            raise
        return _read_failed(key, clock, error)
    else:
        bid = Decimal(rate.bid)
        _usable_until[key] = rate.valid_until or rate.as_of + FxPolicy().max_age
    _rates[key] = (time.monotonic(), bid)
    return bid


def _read_failed(key: tuple[object, str], clock: Clock, error: BaseException) -> Decimal | None:
    """Reading `key`'s bid failed on the database: keep showing the bid read before while its rate
    is not stale (never a rate from anywhere else: none is made up), tried again RATE_CACHE_SECONDS
    later; counted and logged."""
    cached = _rates.get(key)
    until = _usable_until.get(key)
    usable = cached is not None and cached[1] is not None and until is not None and clock.now() <= until
    bid = cached[1] if usable and cached is not None else None
    _rates[key] = (time.monotonic(), bid)
    shown = "cached" if bid is not None else "none"
    telemetry.count("fx.display_refresh_failed", shown=shown)
    log.warning(
        "KES bid for balances not read (%s: %s); showing %s",
        type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "", shown,
        extra={"currency": key[1], "shown": shown},
    )  # fmt: skip
    return bid


async def _bid(
    session: AsyncSession, currency: str, clock: Clock, *, tolerate_failure: bool = False
) -> Decimal | None:
    """The KES bid for `currency`, cached a few seconds per process (display only, never for pricing
    or limits: `limit_value` is theirs). One caller at a time refreshes an expired bid; the others
    show the one it replaces meanwhile (when it expired, every balances screen in flight read the
    rates again, at once)."""
    now = time.monotonic()
    key = (session.bind, currency)  # per engine: another database (a test's) never sees these rates
    cached = _rates.get(key)
    if cached is not None and (now - cached[0] < RATE_CACHE_SECONDS or key in _refreshing):
        return cached[1]
    _refreshing.add(key)
    try:
        return await _read_bid(session, key, clock, tolerate_failure=tolerate_failure)
    finally:
        _refreshing.discard(key)


async def _display_value(
    session: AsyncSession, amount: Money, clock: Clock, *, tolerate_failure: bool
) -> Money | None:
    if amount.asset is Asset.KES:
        return amount
    bid = await _bid(session, amount.asset.currency, clock, tolerate_failure=tolerate_failure)
    return None if bid is None else Money.round_down(amount.amount * bid, Asset.KES)


async def limit_value(session: AsyncSession, amount: Money, clock: Clock) -> Money:
    """What `amount` is worth in KES for the limits and the compliance gate: at the rate quotes price
    with (an approved override, else the newest stored rate no older than FxPolicy's max_age), read
    now in `session` (never the display cache), at its ask (the higher side when sources disagree: a
    limit is never passed by valuing low), rounded up. Raises LimitRateUnavailable when there is no
    fresh rate: the movement is refused (try again shortly), never checked against a stale value."""
    if amount.asset is Asset.KES:
        return amount
    try:
        rate = await fx.latest_rate(
            session=session, base=amount.asset.currency, quote="KES", clock=clock, max_age=FxPolicy().max_age
        )
    except RatesUnavailable as exc:
        raise LimitRateUnavailable(
            f"no fresh {amount.asset.currency}/KES rate to check the limits: try again shortly"
        ) from exc
    return Money.quantize(amount.amount * rate.ask, Asset.KES, rounding=ROUND_UP)


async def balances(session: AsyncSession, customer_id: int, clock: Clock) -> list[BalanceLine]:
    """All four wallets in one query (customer wallets are constrained: their row holds the posted
    balance, kept in place by the ledger), less pending holds; each with its KES value."""
    found = await ledger.wallet_balances(session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id)
    lines = []
    for asset in WALLET_ASSETS:
        amount = Money.from_minor(int(found.get(asset.value, 0)), asset)
        lines.append(
            BalanceLine(
                asset=asset,
                amount=amount,
                kes_value=await _display_value(session, amount, clock, tolerate_failure=True),
            )
        )
    return lines


# what `ledger.wallet_balances` reads on PostgreSQL, for one customer
_CUSTOMER_WALLETS = (
    "SELECT asset, balance - pending_out FROM ledger_accounts"
    " WHERE owner_type = 'customer' AND owner_id = $1 AND kind = 'wallet'"
)


async def read_balances(
    factory: async_sessionmaker[AsyncSession], customer_id: int, clock: Clock
) -> list[BalanceLine]:
    """`balances` as a unit of work of its own (a USSD balances hop, a Telegram tap). On PostgreSQL
    the one query runs on a pooled asyncpg connection with no ORM session around it: the session,
    its AUTOCOMMIT connection and its close cost as much CPU as the query (~190 us each, measured in
    process); a session is opened only when an expired KES rate must be read again. Elsewhere
    (SQLite, the embedded default) it is `balances` in a session."""
    engine = factory.kw["bind"]
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        async with factory() as session:
            return await balances(session, customer_id, clock)
    found = {asset: int(minor) for asset, minor in await _fetch(engine, _CUSTOMER_WALLETS, customer_id)}
    amounts = [Money.from_minor(found.get(asset.value, 0), asset) for asset in WALLET_ASSETS]
    keys: set[tuple[object, str]] = {(engine, a.asset.currency) for a in amounts if a.asset is not Asset.KES}
    if all(key in _rates for key in keys):  # every bid cached: no session, unless one is due
        now = time.monotonic()
        due = {key for key in keys if now - _rates[key][0] >= RATE_CACHE_SECONDS and key not in _refreshing}
        if due:  # this caller reads them again; every other meanwhile shows the bids they replace
            await _refresh_bids(factory, due, clock)
        return [BalanceLine(asset=a.asset, amount=a, kes_value=_cached_value(engine, a)) for a in amounts]
    async with factory() as session:  # none cached yet (a process's first balances)
        return [
            BalanceLine(
                asset=a.asset,
                amount=a,
                kes_value=await _display_value(session, a, clock, tolerate_failure=True),
            )
            for a in amounts
        ]


async def _refresh_bids(
    factory: async_sessionmaker[AsyncSession], keys: set[tuple[object, str]], clock: Clock
) -> None:
    """Read these cached bids again, in one session. They are marked before the first await: a
    balances read arriving meanwhile neither opens a session nor reads them too (when every caller
    that found a bid expired opened its own session, each expiry set off a burst of sessions). A
    database error keeps the cached bids (`_read_failed`): the balances screen never fails for it."""
    _refreshing.update(keys)
    left = set(keys)
    try:
        async with factory() as session:
            for key in keys:
                await _read_bid(session, key, clock, tolerate_failure=True)
                left.discard(key)
    except _READ_FAILURES as error:  # no connection to be had: the cached bids stay, as above
        for key in left:
            _read_failed(key, clock, error)
    finally:
        _refreshing.difference_update(keys)


_CUSTOMER_BY_PHONE = "SELECT id, phone, name, language, pin_reset_pending FROM customers WHERE phone = $1"


async def read_customer(factory: async_sessionmaker[AsyncSession], e164: str) -> CustomerView | None:
    """The customer with this (normalised) phone number, any status, as a view. On PostgreSQL one
    pooled asyncpg query (an ORM session's BEGIN, SELECT and ROLLBACK and the Customer object cost a
    USSD session's first hop more than a dozen later hops); elsewhere through a session."""
    engine = factory.kw["bind"]
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        async with factory() as session:
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            if customer is None:
                return None
            return CustomerView(
                id=customer.id, phone=customer.phone, name=customer.name, language=customer.language,
                pin_reset_pending=identity_flows.pin_reset_required(customer),
            )  # fmt: skip
    rows = await _fetch(engine, _CUSTOMER_BY_PHONE, e164)
    if not rows:
        return None
    found = rows[0]
    return CustomerView(
        id=int(found[0]), phone=found[1], name=found[2], language=found[3], pin_reset_pending=bool(found[4])
    )


def _cached_value(engine: AsyncEngine, amount: Money) -> Money | None:
    if amount.asset is Asset.KES:
        return amount
    bid = _rates[(engine, amount.asset.currency)][1]
    return None if bid is None else Money.round_down(amount.amount * bid, Asset.KES)


class _Lane:
    """Lean reads' connections, per engine and event loop. A read that finds the lane's connections
    all busy waits here, in arrival order, and is handed the connection of the read before it as that
    one is done: under load (a worker serving 50 USSD hops at once) a wait in SQLAlchemy's pool is a
    greenlet and a timeout per read, and each hand-over a check-in and a check-out (~15% of a hop's
    CPU, measured). With nobody waiting, a connection goes straight back to the pool. The lane holds
    at most half the pool, so sessions (payments, sign-ups) always have the other half."""

    def __init__(self, size: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.limit = max(1, size // 2)
        self.out = 0  # connections checked out for lean reads, held or being handed over
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()

    async def acquire(self, engine: AsyncEngine) -> Any:
        if self.out >= self.limit:
            handed: asyncio.Future[Any] = self.loop.create_future()
            self.waiting.append(handed)
            try:
                pooled = await handed
            except asyncio.CancelledError:
                if handed.done() and not handed.cancelled():  # handed over as this read was cancelled
                    given = handed.result()
                    if given is None:  # a slot a failed read gave up: to the next waiter, or back
                        self._give_up_slot()
                    else:
                        self.release(given, reusable=True)
                raise
            if pooled is not None:
                return pooled
        else:
            self.out += 1
        try:  # a slot of its own (or one a failed read gave up): a connection from SQLAlchemy's pool
            return await engine.raw_connection()
        except BaseException:
            self._give_up_slot()
            raise

    def release(self, pooled: Any, *, reusable: bool) -> None:
        if reusable:
            while self.waiting:
                handed = self.waiting.popleft()
                if not handed.done():
                    handed.set_result(pooled)
                    return
        pooled.close()
        self._give_up_slot()

    def _give_up_slot(self) -> None:
        while self.waiting:
            handed = self.waiting.popleft()
            if not handed.done():
                handed.set_result(None)  # it checks a connection out itself, in this slot
                return
        self.out -= 1


_lanes: weakref.WeakKeyDictionary[AsyncEngine, _Lane] = weakref.WeakKeyDictionary()


def _lane(engine: AsyncEngine) -> _Lane:
    lane = _lanes.get(engine)
    if lane is None or lane.loop is not asyncio.get_running_loop():  # a test's new loop, same engine
        size = getattr(engine.pool, "size", None)  # QueuePool's pool_size; NullPool has none
        lane = _lanes[engine] = _Lane(size() if callable(size) else 2)
    return lane


async def _fetch(engine: AsyncEngine, sql: str, *arguments: object) -> list[Any]:
    """Every row of one read on a pooled connection, outside any transaction; driver errors are
    translated as SQLAlchemy's (a lost connection is dropped from the pool, not handed out again)."""
    lane = _lane(engine)
    pooled = await lane.acquire(engine)
    adapted: Any = pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter
    reusable = False
    try:
        async with adapted._execute_mutex:
            try:
                rows = list(await adapted._connection.fetch(sql, *arguments))
            except Exception as error:
                adapted._handle_exception(error)  # raises the DBAPI error SQLAlchemy would
                raise
        reusable = True
        return rows
    except Exception as error:
        if engine.dialect.is_disconnect(cast(Any, error), adapted, None):
            pooled.invalidate(error)
        raise  # and the connection goes back through the pool (its reset), never straight to another read
    finally:
        lane.release(pooled, reusable=reusable)


async def available(session: AsyncSession, customer_id: int, asset: Asset) -> Money:
    return await ledger.available(
        session=session, account_id=await wallet_account_id(session, customer_id, asset)
    )


async def mini_statement(session: AsyncSession, customer_id: int, limit: int) -> list[StatementLine]:
    lines: list[StatementLine] = []
    for asset in WALLET_ASSETS:
        account_id = await wallet_account_id(session, customer_id, asset)
        for movement in await ledger.history(session=session, account_id=account_id, limit=limit):
            lines.append(
                StatementLine(
                    at=movement.created_at, amount=movement.amount, kind=movement.kind, memo=movement.memo
                )
            )
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines[:limit]


async def statement_page(
    session: AsyncSession, customer_id: int, asset: Asset, *, before_entry_id: int | None, limit: int
) -> list[Movement]:
    """One wallet's movements, newest first, `limit` at a time from before `before_entry_id`."""
    account_id = await wallet_account_id(session, customer_id, asset)
    return await ledger.history(
        session=session, account_id=account_id, limit=limit, before_entry_id=before_entry_id
    )
