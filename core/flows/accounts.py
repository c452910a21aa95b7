"""Wallet reads: balances with their KES value, and the mini statement."""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

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
    key = (getattr(session.bind, "url", ""), currency)  # the URL object: rendering it costs more
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
