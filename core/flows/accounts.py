"""Wallet reads: balances with their KES value, and the mini statement."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.errors import KibetiError
from core.flows.types import BalanceLine, StatementLine
from core.fx import service as fx
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


async def _bid(session: AsyncSession, currency: str, clock: Clock) -> Decimal | None:
    """The KES bid for `currency`, cached a few seconds per process (display only, never for pricing).
    One caller at a time refreshes an expired bid; the others show the one it replaces meanwhile
    (when it expired, every balances screen in flight read the rates again, at once)."""
    now = time.monotonic()
    key = (session.bind, currency)  # per engine: another database (a test's) never sees these rates
    cached = _rates.get(key)
    if cached is not None and (now - cached[0] < RATE_CACHE_SECONDS or key in _refreshing):
        return cached[1]
    _refreshing.add(key)
    try:
        bid: Decimal | None = Decimal(
            (await fx.latest_rate(session=session, base=currency, quote="KES", clock=clock)).bid
        )
    except KibetiError:
        bid = None
    finally:
        _refreshing.discard(key)
    _rates[key] = (now, bid)
    return bid


async def kes_value(session: AsyncSession, amount: Money, clock: Clock) -> Money | None:
    """What `amount` is worth in KES at the current bid; None when rates are unavailable."""
    if amount.asset is Asset.KES:
        return amount
    bid = await _bid(session, amount.asset.currency, clock)
    return None if bid is None else Money.round_down(amount.amount * bid, Asset.KES)


async def balances(session: AsyncSession, customer_id: int, clock: Clock) -> list[BalanceLine]:
    """All four wallets in one query (customer wallets are constrained: their row holds the posted
    balance, kept in place by the ledger), less pending holds; each with its KES value."""
    found = await ledger.wallet_balances(session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id)
    lines = []
    for asset in WALLET_ASSETS:
        amount = Money.from_minor(int(found.get(asset.value, 0)), asset)
        lines.append(
            BalanceLine(asset=asset, amount=amount, kes_value=await kes_value(session, amount, clock))
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
    now = time.monotonic()
    fresh = all(
        (cached := _rates.get((engine, amount.asset.currency))) is not None
        and (now - cached[0] < RATE_CACHE_SECONDS or (engine, amount.asset.currency) in _refreshing)
        for amount in amounts
        if amount.asset is not Asset.KES
    )
    if fresh:  # every bid is cached: no session at all
        return [BalanceLine(asset=a.asset, amount=a, kes_value=_cached_value(engine, a)) for a in amounts]
    async with factory() as session:
        return [
            BalanceLine(asset=a.asset, amount=a, kes_value=await kes_value(session, a, clock))
            for a in amounts
        ]


def _cached_value(engine: AsyncEngine, amount: Money) -> Money | None:
    if amount.asset is Asset.KES:
        return amount
    bid = _rates[(engine, amount.asset.currency)][1]
    return None if bid is None else Money.round_down(amount.amount * bid, Asset.KES)


async def _fetch(engine: AsyncEngine, sql: str, *arguments: object) -> list[Any]:
    """Every row of one read on a pooled connection, outside any transaction; driver errors are
    translated as SQLAlchemy's (a lost connection is dropped from the pool, not handed out again)."""
    pooled = await engine.raw_connection()
    adapted: Any = pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter
    try:
        async with adapted._execute_mutex:
            try:
                return list(await adapted._connection.fetch(sql, *arguments))
            except Exception as error:
                adapted._handle_exception(error)  # raises the DBAPI error SQLAlchemy would
                raise
    except Exception as error:
        if engine.dialect.is_disconnect(cast(Any, error), adapted, None):
            pooled.invalidate(error)
        raise
    finally:
        pooled.close()


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
