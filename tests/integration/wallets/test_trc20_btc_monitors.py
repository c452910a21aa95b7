"""TRC20 (TronGrid-style API) and Bitcoin (Esplora) deposit monitors against local HTTP fakes:
confirmations (20 TRON, 3 BTC), reorgs before confirmation, repeated scans, node down and back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tronpy.keys import PrivateKey

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.fake_chains import FakeEsplora, FakeTron
from wallets.btc.source import EsploraSource
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import ChainDeposit
from wallets.networks import BitcoinNet, Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.trc20.source import Trc20Source, tron_address

USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
OTHER_TRC20 = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"
SENDER = PrivateKey(bytes.fromhex("11" * 32))


@pytest.fixture
def tron() -> Iterator[tuple[FakeTron, str]]:
    fake = FakeTron(page_size=3)
    url = fake.start()
    yield fake, url
    fake.stop()


@pytest.fixture
def esplora() -> Iterator[tuple[FakeEsplora, str]]:
    fake = FakeEsplora(network="regtest")
    url = fake.start()
    yield fake, url
    fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def _balance(sf: async_sessionmaker[AsyncSession], asset: Asset, customer: int) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer, asset=asset, kind=AccountKind.WALLET
        )
        return await ledger.balance(session=session, account_id=account.id)


async def test_trc20_credit_after_twenty_confirmations_and_reorg(
    session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    tron: tuple[FakeTron, str],
    http: httpx.AsyncClient,
) -> None:
    fake, url = tron
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    address = (
        await gateway.deposit_address(owner_type="customer", owner_id=3, asset=Asset.USDT_TRC20)
    ).address
    assert address == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
    source = Trc20Source(http.__class__(base_url=url, timeout=5), contract=USDT_TRC20)
    monitor = DepositMonitor(
        source=source,
        session_factory=session_factory,
        config=MonitorConfig(token=USDT_TRC20, confirmations=20, start_height=1, batch_blocks=10),
    )
    fake.chain.produce(2)
    # a reorged-out deposit first: seen, then its block is replaced
    fake.transfer(key=SENDER, contract=USDT_TRC20, to=address, value=50_000_000)
    fake.chain.produce(1)
    assert (await monitor.step()).detected == 1
    fake.chain.reorg(1, 3)
    assert (await monitor.step()).reorg
    # then real ones: several per block (paged events), one other token, one stranger
    for _ in range(4):
        fake.transfer(key=SENDER, contract=USDT_TRC20, to=address, value=1_250_000)
    fake.transfer(key=SENDER, contract=USDT_TRC20, to=SENDER.public_key.to_base58check_address(), value=9)
    fake.chain.produce(1)
    while not (await monitor.step()).caught_up:
        pass
    fake.chain.produce(18)  # 19 confirmations
    await monitor.step()
    assert await _balance(session_factory, Asset.USDT_TRC20, 3) == Money.zero(Asset.USDT_TRC20)
    fake.chain.produce(1)  # 20 confirmations
    await monitor.step()
    await monitor.step()
    assert await _balance(session_factory, Asset.USDT_TRC20, 3) == Money.of(5, Asset.USDT_TRC20)
    async with session_factory() as session:
        statuses = sorted((await session.execute(select(ChainDeposit.status))).scalars())
    assert statuses == ["credited"] * 4 + ["orphaned"]
    await source._client.aclose()


async def test_btc_esplora_deposits_reorg_and_node_down(
    session_factory: async_sessionmaker[AsyncSession],
    test_seed: Seed,
    esplora: tuple[FakeEsplora, str],
) -> None:
    fake, url = esplora
    seed = Seed(test_seed.value, btc_net=BitcoinNet.REGTEST)
    deriver = AddressDeriver({Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=BitcoinNet.REGTEST)
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver, btc_net=BitcoinNet.REGTEST)
    mine = (await gateway.deposit_address(owner_type="customer", owner_id=4, asset=Asset.BTC)).address
    theirs = (await gateway.deposit_address(owner_type="customer", owner_id=5, asset=Asset.BTC)).address
    assert mine.startswith("bcrt1q")
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        monitor = DepositMonitor(
            source=EsploraSource(client),
            session_factory=session_factory,
            config=MonitorConfig(confirmations=3, start_height=1, dust_minor=546),
        )
        fake.chain.produce(1)
        doomed = fake.pay([(mine, 70_000)])
        fake.chain.produce(1)
        assert (await monitor.step()).detected == 1
        fake.chain.reorg(1, 2)  # the block with `doomed` disappears
        kept = fake.pay([(mine, 150_000), (theirs, 20_000), (mine, 100)])  # 100 sat: dust
        fake.chain.produce(1)
        await monitor.step()
        fake.chain.down = True
        with pytest.raises(NodeError):
            await monitor.step()
        fake.chain.produce(3)
        fake.chain.down = False
        for _ in range(3):
            await monitor.step()
    assert await _balance(session_factory, Asset.BTC, 4) == Money.from_minor(150_000, Asset.BTC)
    assert await _balance(session_factory, Asset.BTC, 5) == Money.from_minor(20_000, Asset.BTC)
    async with session_factory() as session:
        rows = (await session.execute(select(ChainDeposit))).scalars().all()
    by_tx = {(r.txid, r.log_index): (r.status, r.reason) for r in rows}
    assert by_tx[(doomed, 0)] == ("orphaned", "")
    assert by_tx[(kept, 0)] == ("credited", "")
    assert by_tx[(kept, 2)] == ("suspense", "dust")


def test_tron_address_forms() -> None:
    assert tron_address("0x" + "a614f803b6fd780986a42c78ec9c7f77e6ded13c") == USDT_TRC20
    assert tron_address("41a614f803b6fd780986a42c78ec9c7f77e6ded13c") == USDT_TRC20
    with pytest.raises(ValueError):
        tron_address("0x1234")
    assert OTHER_TRC20.startswith("T")
