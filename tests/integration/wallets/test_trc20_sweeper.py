"""Sweeping TRC20 deposit addresses on the TRON fake: TRX top-up from the hot wallet for the
energy, then the token transfer; small balances left alone; the TRX burned booked."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tronpy.keys import PrivateKey

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.fake_chains import FakeTron
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.networks import Network
from wallets.trc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Trc20Sender
from wallets.trc20.sweeper import Trc20Sweeper

USDT = Asset.USDT_TRC20
CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PAYER = PrivateKey(bytes.fromhex("33" * 32))


@pytest.fixture
def tron() -> Iterator[tuple[FakeTron, str]]:
    fake = FakeTron()
    yield fake, fake.start()
    fake.stop()


async def _system(sf: async_sessionmaker[AsyncSession], kind: AccountKind) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.system_account(session=session, kind=kind, asset=USDT)
        return await ledger.balance(session=session, account_id=account.id)


async def test_top_up_trx_then_sweep_with_the_burn_booked(
    session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    test_seed: Seed,
    tron: tuple[FakeTron, str],
) -> None:
    fake, url = tron
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    big = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=USDT)).address
    small = (await gateway.deposit_address(owner_type="customer", owner_id=2, asset=USDT)).address
    fake.transfer(key=PAYER, contract=CONTRACT, to=big, value=500_000_000)
    fake.transfer(key=PAYER, contract=CONTRACT, to=small, value=12_000_000)
    fake.chain.produce(1)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        key = test_seed.private_key(Network.TRC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
        hot = Trc20Sender(client, contract=CONTRACT, hot_private_key=key)
        fake.trx[hot.hot_address] = 1_000 * 10**6
        fake.enforce_trx = True
        sweeper = Trc20Sweeper(
            session_factory=session_factory,
            client=client,
            contract=CONTRACT,
            seed=test_seed,
            hot=hot,
            native_price=lambda: Decimal("0.25"),
        )
        first = await sweeper.sweep_once()
        assert first.topped_up == [big] and first.skipped_uneconomical == [small] and not first.swept
        fake.chain.produce(1)
        second = await sweeper.sweep_once()
        assert second.swept == {big: 500_000_000}
        fake.chain.produce(1)
        assert await hot.token_balance() == 500_000_000
        assert await hot.token_balance(big) == 0
        third = await sweeper.sweep_once()
        assert not third.swept and not third.topped_up
    burned = Money.round_up(Decimal(64_285 * 420) / 10**6 * Decimal("0.25"), USDT)
    assert await _system(session_factory, AccountKind.NETWORK_FEES) == -burned
    assert await _system(session_factory, AccountKind.FX_LIQUIDITY) == burned
