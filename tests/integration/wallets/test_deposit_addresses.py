"""Deposit address allocation on SQLite and PostgreSQL: one per owner per network, race-free indexes."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.money import Asset
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.models import DepositAddress


async def test_one_address_per_owner_per_network(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    first = await gateway.deposit_address(owner_type="customer", owner_id=1, asset=Asset.USDT_ERC20)
    again = await gateway.deposit_address(owner_type="customer", owner_id=1, asset=Asset.USDT_ERC20)
    other = await gateway.deposit_address(owner_type="customer", owner_id=2, asset=Asset.USDT_ERC20)
    btc = await gateway.deposit_address(owner_type="customer", owner_id=1, asset=Asset.BTC)
    assert first == again
    assert first.address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert first.derivation_index == 0
    assert other.derivation_index == 1
    assert other.address == "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0"
    assert btc.address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    invoice = await gateway.deposit_address(owner_type="invoice", owner_id=1, asset=Asset.USDT_TRC20)
    assert invoice.address == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


async def test_concurrent_allocation_is_race_free(
    pg_session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    gateway = WalletGateway(session_factory=pg_session_factory, deriver=deriver)
    owners = [owner for owner in range(1, 21) for _ in range(3)]  # each owner asks three times at once
    results = await asyncio.gather(
        *(gateway.deposit_address(owner_type="customer", owner_id=o, asset=Asset.USDT_TRC20) for o in owners)
    )
    by_owner: dict[int, set[str]] = {}
    for owner, result in zip(owners, results, strict=True):
        by_owner.setdefault(owner, set()).add(result.address)
    assert all(len(addresses) == 1 for addresses in by_owner.values())
    indexes = sorted({r.derivation_index for r in results})
    assert indexes == list(range(20))  # no index twice, and no gaps
    async with pg_session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(DepositAddress))
    assert count == 20
