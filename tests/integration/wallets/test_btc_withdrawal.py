"""A BTC withdrawal end to end against the Esplora fake: deposit credited, coins selected, fee from
sat/vB x vsize, signed with bitcoinlib, broadcast, confirmed, posted with exact fees in the ledger;
the change output comes back as our own coin, never as a deposit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.fake_chains import FakeEsplora
from wallets.btc.fees import fee_sats
from wallets.btc.source import EsploraClient
from wallets.btc.withdrawals import BtcWithdrawals
from wallets.errors import HotWalletInsufficient
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import ChainDeposit, Withdrawal
from wallets.networks import BitcoinNet, Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.withdrawals.lifecycle import request_withdrawal

BTC = Asset.BTC
PAYEE = "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw"


@pytest.fixture
def esplora() -> Iterator[tuple[FakeEsplora, str]]:
    fake = FakeEsplora(network="regtest")
    yield fake, fake.start()
    fake.stop()


async def _balance(
    sf: async_sessionmaker[AsyncSession], kind: AccountKind, customer: int | None = None
) -> Money:
    async with sf() as session, session.begin():
        if customer is None:
            account = await ledger.system_account(session=session, kind=kind, asset=BTC)
        else:
            account = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=BTC, kind=kind
            )
        return await ledger.balance(session=session, account_id=account.id)


async def test_btc_withdrawal_end_to_end(
    session_factory: async_sessionmaker[AsyncSession], test_seed: Seed, esplora: tuple[FakeEsplora, str]
) -> None:
    fake, url = esplora
    sf = session_factory
    seed = Seed(test_seed.value, btc_net=BitcoinNet.REGTEST)
    deriver = AddressDeriver({Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=BitcoinNet.REGTEST)
    gateway = WalletGateway(session_factory=sf, deriver=deriver, btc_net=BitcoinNet.REGTEST)
    mine = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=BTC)).address
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        node = EsploraClient(client)
        monitor = DepositMonitor(
            source=node, session_factory=sf, config=MonitorConfig(confirmations=3, start_height=1)
        )
        fake.chain.produce(1)
        fake.pay([(mine, 300_000)])
        fake.pay([(mine, 200_000)])
        fake.chain.produce(3)
        await monitor.step()
        assert await _balance(sf, AccountKind.WALLET, 1) == Money.from_minor(500_000, BTC)
        async with sf() as session, session.begin():
            withdrawal = await request_withdrawal(
                session=session,
                request_key="btc-1",
                network=Network.BTC,
                owner_type="customer",
                owner_id=1,
                address=PAYEE,
                amount=Money.from_minor(350_000, BTC),
                fee=Money.from_minor(5_000, BTC),
                btc_net=BitcoinNet.REGTEST,
            )
        processor = BtcWithdrawals(session_factory=sf, node=node, seed=seed, deriver=deriver)
        assert await processor.send(withdrawal.id) == "broadcast"
        assert await processor.send(withdrawal.id) == "broadcast"  # idempotent: one broadcast
        assert len(fake.broadcasts) == 1
        [tx] = fake.broadcasts
        assert len(tx.inputs) == 2 and tx.outputs[0].address == PAYEE and tx.outputs[0].value == 350_000
        network_fee = fee_sats(__import__("decimal").Decimal("12.008"), inputs=2, outputs=2)
        assert sum(o.value for o in tx.outputs) == 500_000 - network_fee
        fake.chain.produce(1)
        assert await processor.track(withdrawal.id) == "broadcast"  # 1 confirmation
        fake.chain.produce(2)
        assert await processor.track(withdrawal.id) == "confirmed"
        for _ in range(2):
            await monitor.step()  # sees the change output: ours, internal, not a deposit
    assert await _balance(sf, AccountKind.WALLET, 1) == Money.from_minor(500_000 - 355_000, BTC)
    assert await _balance(sf, AccountKind.FEE_REVENUE) == Money.from_minor(5_000, BTC)
    assert await _balance(sf, AccountKind.NETWORK_FEES) == Money.from_minor(-network_fee, BTC)
    # custody: +500,000 in (debited), then 350,000 + the network fee out
    assert await _balance(sf, AccountKind.CUSTODY) == Money.from_minor(-500_000 + 350_000 + network_fee, BTC)
    async with sf() as session:
        rows = (await session.execute(select(ChainDeposit).order_by(ChainDeposit.id))).scalars().all()
        row = await session.get(Withdrawal, withdrawal.id)
    assert [(r.status, bool(r.spent_by)) for r in rows] == [
        ("credited", True),
        ("credited", True),
        ("internal", False),
    ]
    assert row is not None and int(row.network_fee_native) == network_fee


async def test_btc_withdrawal_without_coins_stays_held(
    session_factory: async_sessionmaker[AsyncSession], test_seed: Seed, esplora: tuple[FakeEsplora, str]
) -> None:
    fake, url = esplora
    sf = session_factory
    seed = Seed(test_seed.value, btc_net=BitcoinNet.REGTEST)
    deriver = AddressDeriver({Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=BitcoinNet.REGTEST)
    async with sf() as session, session.begin():
        from core.ledger.models import PostingRequest

        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=2, asset=BTC
        )
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=BTC)
        await ledger.post_entry(
            session=session,
            idempotency_key="seed-balance",
            kind="test",
            postings=[
                PostingRequest(custody.id, -Money.of(1, BTC)),
                PostingRequest(wallet.id, Money.of(1, BTC)),
            ],
        )
        withdrawal = await request_withdrawal(
            session=session,
            request_key="btc-2",
            network=Network.BTC,
            owner_type="customer",
            owner_id=2,
            address=PAYEE,
            amount=Money.of("0.5", BTC),
            fee=Money.zero(BTC),
            btc_net=BitcoinNet.REGTEST,
        )
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        processor = BtcWithdrawals(session_factory=sf, node=EsploraClient(client), seed=seed, deriver=deriver)
        with pytest.raises(HotWalletInsufficient):
            await processor.send(withdrawal.id)
    assert not fake.broadcasts
