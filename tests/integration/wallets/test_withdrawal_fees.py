"""Published fees are charged (issue 11 item 2): a withdrawal quote includes the network fee estimate
(gas price x gas on a real EVM, energy and bandwidth on the TRON fake, sat/vB x vsize on the Esplora
fake), shows it, holds it with the amount, and on confirmation books the difference between the
estimate and what the chain took to the network-fee gain/loss account. Over a run of withdrawals at
the configured fee policy, per network, the network fees charged cover what the chains took, the
house pays no network fee of a customer's withdrawal, and the books balance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.config import Settings
from core.fees.schedule import BLUEPRINT_DEFAULTS
from core.flows.service import CoreFlows
from core.flows.withdrawals import withdrawal_quote_text
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.ledger.verify import verify
from core.money import Asset, Money
from core.quotes.errors import QuoteNotFound
from core.runtime import Runtime
from tests import factories
from tests.integration.wallets.evm import EvmChain
from tests.integration.wallets.fake_chains import FakeEsplora, FakeTron
from wallets.btc.source import EsploraClient
from wallets.btc.withdrawals import BtcWithdrawals
from wallets.erc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Erc20Sender
from wallets.erc20.withdrawals import EvmWithdrawals
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import Withdrawal
from wallets.networks import BitcoinNet, Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.trc20.sender import Trc20Sender
from wallets.trc20.withdrawals import TronWithdrawals
from wallets.withdrawals.fee_report import network_fee_report
from wallets.withdrawals.fees import FeePolicy, NetworkFeeEstimator
from wallets.withdrawals.lifecycle import native_to_asset
from webapp.queues import InProcessJobQueue

PIN = "4826"
ETH_PRICE, TRX_PRICE = Decimal(3000), Decimal("0.25")
POLICY = FeePolicy(eth_price=ETH_PRICE, trx_price=TRX_PRICE)
EVM_PAYEE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TRON_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRON_PAYEE = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
BTC_PAYEE = "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw"


@dataclass
class Desk:
    """One network's withdrawal desk: the use cases over a gateway, and the signer's processor."""

    asset: Asset
    flows: CoreFlows
    processor: EvmWithdrawals | TronWithdrawals | BtcWithdrawals
    confirm: Callable[[], Awaitable[None]]  # mine until the last transaction has its confirmations
    actual: Callable[[Withdrawal], Money]  # what the chain took, in the asset
    exact: bool = False  # the estimate is exactly what the chain takes (same rate, same inputs)


def _flows(sf: async_sessionmaker[AsyncSession], gateway: WalletGateway) -> CoreFlows:
    rt = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=sf,
        clock=SystemClock(),
        queue=InProcessJobQueue(),
    )
    rt.chains = gateway
    return CoreFlows(rt)


async def _customer(sf: async_sessionmaker[AsyncSession], asset: Asset, funds: Money | None) -> int:
    async with sf() as session:  # fresh rates: a withdrawal is valued in KES for the limits
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=SystemClock())
        customer = await factories.customer(session, pin=PIN)
        if funds is not None:  # deposited earlier: custody holds it, the customer owns it
            await factories.deposit(session, customer_id=customer.id, funds=funds)
        await session.commit()
        return customer.id


async def _system(sf: async_sessionmaker[AsyncSession], kind: AccountKind, asset: Asset) -> Money:
    async with sf() as session:
        account = await ledger.system_account(session=session, kind=kind, asset=asset)
        found = await ledger.balance(session=session, account_id=account.id)
        await session.commit()
        return found


async def _run(
    sf: async_sessionmaker[AsyncSession], desk: Desk, customer: int, amounts: list[str], address: str
) -> None:
    charged, took, withdrawal_fees = [], [], []
    for n, text in enumerate(amounts):
        gateway = desk.flows.rt.chains
        assert gateway is not None
        pay = Money.of(text, desk.asset)
        estimate = await gateway.network_fee(asset=pay.asset, address=address, amount=pay)
        quote = await desk.flows.quote_withdraw(customer_id=customer, amount=pay, address=address)
        assert quote.network_fee == BLUEPRINT_DEFAULTS.network_fee(estimate) and estimate.is_positive()
        withdrawal_fee = BLUEPRINT_DEFAULTS.withdrawal.apply(pay)
        assert (
            quote.fee == withdrawal_fee + estimate and quote.receive == pay - quote.fee
        )  # shown and deducted
        assert "network fee" in withdrawal_quote_text(quote, address=address, network="x")
        receipt = await desk.flows.confirm_withdraw(
            customer_id=customer, quote_id=quote.id, address=address, pin=PIN, idempotency_key=f"w-{n}"
        )
        withdrawal_id = int(receipt.reference.removeprefix("W"))
        async with sf() as session:  # the estimate is held with the amount
            row = await session.get(Withdrawal, withdrawal_id)
            assert row is not None and row.network_fee_minor == estimate.minor
            assert row.amount_minor + row.fee_minor == pay.minor
        assert await desk.processor.send(withdrawal_id) == "broadcast"
        await desk.confirm()
        assert await desk.processor.track(withdrawal_id) == "confirmed"
        async with sf() as session:
            row = await session.get(Withdrawal, withdrawal_id)
            assert row is not None
            took.append(desk.actual(row))
        assert not desk.exact or took[-1] == estimate, (took[-1], estimate)
        charged.append(estimate)
        withdrawal_fees.append(withdrawal_fee)
    asset = charged[0].asset
    total_charged, total_took = sum(charged, Money.zero(asset)), sum(took, Money.zero(asset))
    assert total_charged >= total_took, (charged, took)  # the fees charged cover the chains' fees
    gain_loss = await _system(sf, AccountKind.NETWORK_FEE_GAIN_LOSS, asset)
    assert gain_loss == total_charged - total_took
    assert await _system(sf, AccountKind.NETWORK_FEES, asset) == Money.zero(asset)  # nothing on the house
    assert await _system(sf, AccountKind.FEE_REVENUE, asset) == sum(withdrawal_fees, Money.zero(asset))
    async with sf() as session:
        report = await verify(session=session)
        assert report.ok, report
        [line] = [x for x in await network_fee_report(session=session) if x.network.asset is asset]
        await session.commit()
    assert (line.withdrawals, line.charged, line.paid) == (len(amounts), total_charged, total_took)
    assert line.covered and line.withdrawal_fees == sum(withdrawal_fees, Money.zero(asset))
    other = await desk.flows.quote_send(
        customer_id=customer, to_phone="+254700000001", amount=Money.of(amounts[0], asset)
    )
    with pytest.raises(QuoteNotFound):  # a send-to-phone quote (no network fee) never pays a withdrawal
        await desk.flows.confirm_withdraw(
            customer_id=customer, quote_id=other.id, address=address, pin=PIN, idempotency_key="w-send"
        )


async def test_erc20_withdrawals_charge_the_gas_they_cost(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    sf = session_factory
    sender = Erc20Sender(
        evm.aw3, token=evm.token.address,
        hot_private_key=test_seed.private_key(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN),
    )  # fmt: skip
    evm.pay(sender.hot_address, 1_000_000_000)
    evm.send_eth(sender.hot_address, 10**18)
    estimator = NetworkFeeEstimator(
        policy=POLICY, deriver=deriver, node_urls={}, erc20_token=evm.token.address, erc20_w3=evm.aw3
    )
    gateway = WalletGateway(session_factory=sf, deriver=deriver, fee_estimator=estimator)
    processor = EvmWithdrawals(
        session_factory=sf, sender=sender, confirmations=3, native_price=lambda: ETH_PRICE
    )

    async def confirm() -> None:
        evm.mine(2)

    def actual(row: Withdrawal) -> Money:
        return native_to_asset(
            int(row.network_fee_native), decimals=18, native_price=ETH_PRICE, asset=Asset.USDT_ERC20
        )

    customer = await _customer(sf, Asset.USDT_ERC20, Money.of(500, Asset.USDT_ERC20))
    desk = Desk(Asset.USDT_ERC20, _flows(sf, gateway), processor, confirm, actual)
    await _run(sf, desk, customer, ["25", "10", "100", "7.5", "40"], EVM_PAYEE)


@pytest.fixture
def tron() -> Iterator[tuple[FakeTron, str]]:
    fake = FakeTron()
    yield fake, fake.start()
    fake.stop()


async def test_trc20_withdrawals_charge_the_trx_they_burn(
    session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    test_seed: Seed,
    tron: tuple[FakeTron, str],
) -> None:
    fake, url = tron
    sf = session_factory
    estimator = NetworkFeeEstimator(
        policy=POLICY, deriver=deriver, node_urls={Network.TRC20: url}, trc20_contract=TRON_CONTRACT
    )
    gateway = WalletGateway(session_factory=sf, deriver=deriver, fee_estimator=estimator)
    fake.chain.produce(1)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        key = test_seed.private_key(Network.TRC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
        sender = Trc20Sender(client, contract=TRON_CONTRACT, hot_private_key=key)
        processor = TronWithdrawals(session_factory=sf, sender=sender, native_price=lambda: TRX_PRICE)

        async def confirm() -> None:
            fake.chain.produce(20)

        def actual(row: Withdrawal) -> Money:
            return native_to_asset(
                int(row.network_fee_native), decimals=6, native_price=TRX_PRICE, asset=Asset.USDT_TRC20
            )

        customer = await _customer(sf, Asset.USDT_TRC20, Money.of(500, Asset.USDT_TRC20))
        desk = Desk(Asset.USDT_TRC20, _flows(sf, gateway), processor, confirm, actual)
        await _run(sf, desk, customer, ["30", "12", "60"], TRON_PAYEE)


@pytest.fixture
def esplora() -> Iterator[tuple[FakeEsplora, str]]:
    fake = FakeEsplora(network="regtest")
    yield fake, fake.start()
    fake.stop()


async def test_btc_withdrawals_charge_the_fee_rate_times_vsize(
    session_factory: async_sessionmaker[AsyncSession], test_seed: Seed, esplora: tuple[FakeEsplora, str]
) -> None:
    fake, url = esplora
    sf = session_factory
    seed = Seed(test_seed.value, btc_net=BitcoinNet.REGTEST)
    deriver = AddressDeriver({Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=BitcoinNet.REGTEST)
    estimator = NetworkFeeEstimator(policy=POLICY, deriver=deriver, node_urls={Network.BTC: url})
    gateway = WalletGateway(
        session_factory=sf, deriver=deriver, btc_net=BitcoinNet.REGTEST, fee_estimator=estimator
    )
    customer = await _customer(sf, Asset.BTC, None)
    mine = (await gateway.deposit_address(owner_type="customer", owner_id=customer, asset=Asset.BTC)).address
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        node = EsploraClient(client)
        monitor = DepositMonitor(
            source=node, session_factory=sf, config=MonitorConfig(confirmations=3, start_height=1)
        )
        fake.chain.produce(1)
        for value in (300_000, 250_000, 400_000):
            fake.pay([(mine, value)])
        fake.chain.produce(3)
        await monitor.step()
        processor = BtcWithdrawals(session_factory=sf, node=node, seed=seed, deriver=deriver)

        async def confirm() -> None:
            fake.chain.produce(3)
            await monitor.step()  # sees the change: ours, internal

        def actual(row: Withdrawal) -> Money:
            return Money.from_minor(int(row.network_fee_native), Asset.BTC)

        desk = Desk(Asset.BTC, _flows(sf, gateway), processor, confirm, actual, exact=True)
        await _run(sf, desk, customer, ["0.002", "0.0015", "0.003"], BTC_PAYEE)
    async with sf() as session:
        rows = (await session.execute(select(Withdrawal))).scalars().all()
        assert len(rows) == 3 and all(r.status == "confirmed" for r in rows)


async def test_no_quote_without_a_fee_estimate_and_the_customer_is_told(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tron: tuple[FakeTron, str]
) -> None:
    """A node that cannot price the fee means no quote (never one without the network fee), nothing
    held, and an error every channel can say in both languages."""
    from core.i18n import translate
    from wallets.errors import NodeError

    fake, url = tron
    sf = session_factory
    estimator = NetworkFeeEstimator(
        policy=POLICY, deriver=deriver, node_urls={Network.TRC20: url}, trc20_contract=TRON_CONTRACT
    )
    flows = _flows(sf, WalletGateway(session_factory=sf, deriver=deriver, fee_estimator=estimator))
    customer = await _customer(sf, Asset.USDT_TRC20, Money.of(50, Asset.USDT_TRC20))
    fake.chain.down = True
    with pytest.raises(NodeError) as failed:
        await flows.quote_withdraw(
            customer_id=customer, amount=Money.of(20, Asset.USDT_TRC20), address=TRON_PAYEE
        )
    for language in ("en", "sw"):
        text = translate(f"error.{failed.value.code}", language)
        assert text != f"error.{failed.value.code}" and len(text) <= 160
    async with sf() as session:
        assert (await session.execute(select(Withdrawal))).first() is None
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer, asset=Asset.USDT_TRC20
        )
        assert await ledger.available(session=session, account_id=wallet.id) == Money.of(50, Asset.USDT_TRC20)
        await session.commit()
