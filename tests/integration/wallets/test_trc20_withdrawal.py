"""USDT-TRC20 withdrawals against the TRON HTTP fake: built by the node, checked, signed with
tronpy, broadcast (signature verified), 20 confirmations, posted with the TRX burned booked;
a transaction that expires unmined is rebuilt and paid once."""

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
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.trc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Trc20Sender
from wallets.trc20.source import Trc20Source
from wallets.trc20.withdrawals import TronWithdrawals
from wallets.withdrawals.lifecycle import request_withdrawal

USDT = Asset.USDT_TRC20
CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PAYER = PrivateKey(bytes.fromhex("22" * 32))
PAYEE = PAYER.public_key.to_base58check_address()
TRX_PRICE = Decimal("0.25")  # USDT per TRX


@pytest.fixture
def tron() -> Iterator[tuple[FakeTron, str]]:
    fake = FakeTron(page_size=5)
    yield fake, fake.start()
    fake.stop()


async def _balance(
    sf: async_sessionmaker[AsyncSession], kind: AccountKind, customer: int | None = None
) -> Money:
    async with sf() as session, session.begin():
        if customer is None:
            account = await ledger.system_account(session=session, kind=kind, asset=USDT)
        else:
            account = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=USDT, kind=kind
            )
        return await ledger.balance(session=session, account_id=account.id)


async def _request(sf: async_sessionmaker[AsyncSession], key: str, amount: str) -> Withdrawal:
    async with sf() as session, session.begin():
        return await request_withdrawal(
            session=session,
            request_key=key,
            network=Network.TRC20,
            owner_type="customer",
            owner_id=1,
            address=PAYEE,
            amount=Money.of(amount, USDT),
            fee=Money.of(1, USDT),
        )


async def test_trc20_withdrawal_end_to_end_and_expired_rebuild(
    session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    test_seed: Seed,
    tron: tuple[FakeTron, str],
) -> None:
    fake, url = tron
    sf = session_factory
    gateway = WalletGateway(session_factory=sf, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=USDT)).address
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        monitor = DepositMonitor(
            source=Trc20Source(client, contract=CONTRACT),
            session_factory=sf,
            config=MonitorConfig(token=CONTRACT, confirmations=20, start_height=1),
        )
        fake.chain.produce(1)
        fake.transfer(key=PAYER, contract=CONTRACT, to=address, value=30_000_000)
        fake.chain.produce(20)
        await monitor.step()
        assert await _balance(sf, AccountKind.WALLET, 1) == Money.of(30, USDT)

        key = test_seed.private_key(Network.TRC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
        sender = Trc20Sender(client, contract=CONTRACT, hot_private_key=key)
        processor = TronWithdrawals(session_factory=sf, sender=sender, native_price=lambda: TRX_PRICE)
        first = await _request(sf, "t-1", "10")
        assert await processor.send(first.id) == "broadcast"
        assert await processor.send(first.id) == "broadcast"
        fake.chain.produce(1)
        assert await processor.track(first.id) == "broadcast"
        fake.chain.produce(19)
        assert await processor.track(first.id) == "confirmed"

        # a broadcast that the network loses: the transaction expires unmined and is rebuilt
        fake.swallow_broadcasts = True
        second = await _request(sf, "t-2", "5")
        assert await processor.send(second.id) == "broadcast"
        fake.swallow_broadcasts = False
        assert await processor.track(second.id) == "broadcast"  # not expired yet: wait
        real_now = sender.now_ms
        sender.now_ms = lambda: real_now() + 120_000  # two minutes later: expired unmined
        assert await processor.track(second.id) == "broadcast"  # rebuilt, re-signed, re-sent
        sender.now_ms = real_now
        fake.chain.produce(20)
        assert await processor.track(second.id) == "confirmed"
    burned_sun = 64_285 * 420 + 345_000  # energy + bandwidth, as the node reports
    cost = Money.round_up(Decimal(burned_sun) / 10**6 * TRX_PRICE, USDT)
    assert await _balance(sf, AccountKind.WALLET, 1) == Money.of(30 - 11 - 6, USDT)
    assert await _balance(sf, AccountKind.FEE_REVENUE) == Money.of(2, USDT)
    assert await _balance(sf, AccountKind.NETWORK_FEES) == -(cost + cost)
    assert await _balance(sf, AccountKind.FX_LIQUIDITY) == cost + cost
    async with sf() as session:
        row = await session.get(Withdrawal, second.id)
        assert row is not None and len(row.replaced_txids.split()) == 1
    paid = [t for b in fake.chain.blocks for t in b.items if t.to == PAYEE]
    assert sorted(t.value for t in paid) == [5_000_000, 10_000_000]  # each paid exactly once


async def test_a_node_that_alters_the_transaction_is_refused(
    test_seed: Seed, tron: tuple[FakeTron, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = tron
    original = fake._build

    def tampered(body: dict[str, object]) -> dict[str, object]:
        built = original({**body, "parameter": "0" * 64 + format(10**12, "x").rjust(64, "0")})
        return built

    monkeypatch.setattr(fake, "_build", tampered)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        sender = Trc20Sender(
            client, contract=CONTRACT, hot_private_key=test_seed.private_key(Network.TRC20, 0, chain=1)
        )
        with pytest.raises(NodeError, match="different call"):
            await sender.sign_transfer(to=PAYEE, amount=1_000_000)


async def test_signer_jobs_dispatch_a_trc20_withdrawal(
    session_factory: async_sessionmaker[AsyncSession],
    test_seed: Seed,
    tron: tuple[FakeTron, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core import runtime as runtime_module
    from core.clock import SystemClock
    from core.config import Settings, WalletSettings
    from core.ledger.models import PostingRequest
    from core.runtime import Runtime
    from core.security.keyring import keyring_from_settings
    from wallets import jobs
    from wallets.hd.custody import seal_seed

    fake, url = tron
    sf = session_factory
    settings = Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        tron_rpc_url=url,
        usdt_trc20_contract=CONTRACT,
        master_passphrase="another test master passphrase",  # type: ignore[arg-type]
    )
    monkeypatch.setenv(
        "WALLET_SEED_SEALED", seal_seed(test_seed.value, keyring=keyring_from_settings(settings))
    )
    monkeypatch.setenv("TRC20_CONFIRMATIONS", "2")
    settings = settings.model_copy(update={"wallets": WalletSettings()})  # the section reads them now
    async with sf() as session, session.begin():
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=USDT
        )
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=USDT)
        await ledger.post_entry(
            session=session,
            idempotency_key="seed-trc20",
            kind="test",
            postings=[
                PostingRequest(custody.id, -Money.of(9, USDT)),
                PostingRequest(wallet.id, Money.of(9, USDT)),
            ],
        )
    withdrawal = await _request(sf, "t-job", "3")
    previous = runtime_module._current
    runtime_module.install(Runtime(settings=settings, session_factory=sf, clock=SystemClock(), queue=None))  # type: ignore[arg-type]
    try:
        assert await jobs.send_withdrawal(withdrawal.id) == "broadcast"
        fake.chain.produce(2)
        assert await jobs.track_withdrawals() == {"confirmed": 1}
        assert await jobs.sweep_deposits() == {"trc20": 0}  # no deposit addresses here
    finally:
        runtime_module._current = previous
    assert await _balance(sf, AccountKind.WALLET, 1) == Money.of(5, USDT)
