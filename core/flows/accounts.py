"""Wallet reads: balances with their KES value, and the mini statement."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import KibetiError
from core.flows.types import BalanceLine, StatementLine
from core.fx import service as fx
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType
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


async def kes_value(session: AsyncSession, amount: Money, clock: Clock) -> Money | None:
    """What `amount` is worth in KES at the current bid; None when rates are unavailable."""
    if amount.asset is Asset.KES:
        return amount
    try:
        rate = await fx.latest_rate(session=session, base=amount.asset.currency, quote="KES", clock=clock)
    except KibetiError:
        return None
    return Money.round_down(amount.amount * Decimal(rate.bid), Asset.KES)


async def balances(session: AsyncSession, customer_id: int, clock: Clock) -> list[BalanceLine]:
    lines = []
    for asset in WALLET_ASSETS:
        account_id = await wallet_account_id(session, customer_id, asset)
        amount = await ledger.available(session=session, account_id=account_id)
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
