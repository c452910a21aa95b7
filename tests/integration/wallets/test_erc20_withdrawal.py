"""USDT-ERC20 withdrawal end to end on a real EVM (py-evm): deposit credited by the monitor, then
validate -> hold -> sign -> broadcast -> 3 confirmations -> posted, with the network fee booked."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.errors import InsufficientFunds
from core.ledger.models import AccountKind
from core.money import Asset, Money
from core.ports import Decision, GateResult, MovementCheck
from tests.integration.wallets.evm import EvmChain
from wallets.erc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Erc20Sender
from wallets.erc20.source import Erc20Source
from wallets.erc20.withdrawals import EvmWithdrawals
from wallets.errors import AmountBelowDust, HotWalletInsufficient, WithdrawalRefused, WrongNetworkAddress
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.withdrawals.lifecycle import request_withdrawal, wei_to_asset

USDT = Asset.USDT_ERC20
ETH_PRICE = Decimal("3000")  # USDT per ETH, for booking gas
RECIPIENT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


async def _balance(
    sf: async_sessionmaker[AsyncSession], *, kind: AccountKind, customer: int | None = None
) -> Money:
    async with sf() as session, session.begin():
        if customer is None:
            account = await ledger.system_account(session=session, kind=kind, asset=USDT)
        else:
            account = await ledger.get_or_open_account(
                session=session, owner_type="customer", owner_id=customer, asset=USDT, kind=kind
            )
        return await ledger.balance(session=session, account_id=account.id)


async def _deposit(
    sf: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, minor: int
) -> None:
    gateway = WalletGateway(session_factory=sf, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=USDT)).address
    evm.pay(address, minor)
    evm.mine(3)
    monitor = DepositMonitor(
        source=Erc20Source(evm.aw3, tokens=[evm.token.address]),
        session_factory=sf,
        config=MonitorConfig(token=evm.token.address),
    )
    await monitor.step()


def _processor(
    sf: async_sessionmaker[AsyncSession], evm: EvmChain, seed: Seed, *, fund: bool = True
) -> EvmWithdrawals:
    key = seed.private_key(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
    sender = Erc20Sender(evm.aw3, token=evm.token.address, hot_private_key=key)
    if fund:
        evm.pay(sender.hot_address, 1_000_000_000)  # 1,000 USDT swept earlier
        evm.send_eth(sender.hot_address, 10**18)
    return EvmWithdrawals(session_factory=sf, sender=sender, confirmations=3, native_price=lambda: ETH_PRICE)


async def _request(sf: async_sessionmaker[AsyncSession], key: str, amount: str, fee: str = "1") -> Withdrawal:
    async with sf() as session, session.begin():
        return await request_withdrawal(
            session=session,
            request_key=key,
            network=Network.ERC20,
            owner_type="customer",
            owner_id=1,
            address=RECIPIENT.lower(),
            amount=Money.of(amount, USDT),
            fee=Money.of(fee, USDT),
            dust_minor=1_000_000,
        )


async def test_withdrawal_end_to_end_with_fees_in_the_ledger(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    await _deposit(session_factory, deriver, evm, 25_500_000)
    processor = _processor(session_factory, evm, test_seed)
    withdrawal = await _request(session_factory, "w-1", "10")
    again = await _request(session_factory, "w-1", "10")
    assert again.id == withdrawal.id  # idempotent request
    assert await processor.send(withdrawal.id) == "broadcast"
    assert await processor.send(withdrawal.id) == "broadcast"  # no second transaction
    assert evm.token.functions.balanceOf(RECIPIENT).call() == 10_000_000
    assert await processor.track(withdrawal.id) == "broadcast"  # 1 confirmation
    evm.mine(2)
    assert await processor.track(withdrawal.id) == "confirmed"
    async with session_factory() as session:
        row = await session.get(Withdrawal, withdrawal.id)
        assert row is not None
        fee_wei = int(row.network_fee_native)
    assert fee_wei > 0
    network_fee = wei_to_asset(fee_wei, native_price=ETH_PRICE, asset=USDT)
    assert network_fee.is_positive()
    assert await _balance(session_factory, kind=AccountKind.WALLET, customer=1) == Money.of("14.5", USDT)
    assert await _balance(session_factory, kind=AccountKind.NETWORK_FEES) == -network_fee  # expense
    assert await _balance(session_factory, kind=AccountKind.FX_LIQUIDITY) == network_fee  # gas float
    assert await _balance(session_factory, kind=AccountKind.FEE_REVENUE) == Money.of(1, USDT)
    assert await _balance(session_factory, kind=AccountKind.CUSTODY) == Money.of("-15.5", USDT)
    assert await processor.track(withdrawal.id) == "confirmed"  # posted once


async def test_withdrawal_refusals(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    await _deposit(session_factory, deriver, evm, 5_000_000)
    async with session_factory() as session, session.begin():
        with pytest.raises(WrongNetworkAddress, match="USDT-TRC20"):
            await request_withdrawal(
                session=session,
                request_key="w-tron",
                network=Network.ERC20,
                owner_type="customer",
                owner_id=1,
                address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
                amount=Money.of(1, USDT),
                fee=Money.of(1, USDT),
            )

    class DenyAddresses:
        async def check(self, movement: MovementCheck, *, session: object = None) -> GateResult:
            assert movement.kind == "withdraw" and movement.counterparty == RECIPIENT
            return GateResult(Decision.DENY, "sanctioned_address")

    async with session_factory() as session, session.begin():
        with pytest.raises(WithdrawalRefused, match="sanctioned_address"):
            await request_withdrawal(
                session=session,
                request_key="w-sanctioned",
                network=Network.ERC20,
                owner_type="customer",
                owner_id=1,
                address=RECIPIENT,
                amount=Money.of(2, USDT),
                fee=Money.of(1, USDT),
                gate=DenyAddresses(),
            )
    with pytest.raises(AmountBelowDust):
        await _request(session_factory, "w-dust", "0.5")
    with pytest.raises(InsufficientFunds):
        await _request(session_factory, "w-big", "4.5", fee="1")
    # the hot wallet is empty: the withdrawal stays held, nothing is sent, staff are alerted
    processor = _processor(session_factory, evm, test_seed, fund=False)
    withdrawal = await _request(session_factory, "w-ok", "3")
    with pytest.raises(HotWalletInsufficient):
        await processor.send(withdrawal.id)
    assert await _balance(session_factory, kind=AccountKind.WALLET, customer=1) == Money.of(5, USDT)


async def test_reverted_withdrawal_voids_the_hold(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    from wallets.erc20.sender import GasQuote

    await _deposit(session_factory, deriver, evm, 10_000_000)
    processor = _processor(session_factory, evm, test_seed)
    real_estimate = processor.sender.estimate

    async def too_little_gas(to: str, amount: int) -> GasQuote:
        quote = await real_estimate(to, amount)
        return GasQuote(gas_limit=23_000, gas_price_wei=quote.gas_price_wei)  # runs out of gas on chain

    processor.sender.estimate = too_little_gas  # type: ignore[method-assign]
    before = evm.token.functions.balanceOf(RECIPIENT).call()
    withdrawal = await _request(session_factory, "w-revert", "4")
    assert await processor.send(withdrawal.id) == "broadcast"
    evm.mine(3)
    assert await processor.track(withdrawal.id) == "failed"
    assert evm.token.functions.balanceOf(RECIPIENT).call() == before
    async with session_factory() as session, session.begin():
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=USDT
        )
        assert await ledger.available(session=session, account_id=wallet.id) == Money.of(10, USDT)
        row = await session.get(Withdrawal, withdrawal.id)
        assert row is not None and row.status == "failed" and "reverted" in row.error
    assert await _balance(session_factory, kind=AccountKind.NETWORK_FEES) == -wei_to_asset(
        int(row.network_fee_native), native_price=ETH_PRICE, asset=USDT
    )


async def test_gateway_withdrawal_holds_and_stages_the_signer_job_in_one_transaction(
    pg_session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    # PostgreSQL only for now: on SQLite (pysqlite's implicit transactions) a SAVEPOINT that opens
    # a connection's first write releases as a COMMIT, so a ledger hold outlives the rollback.
    from sqlalchemy import select

    from core.outbox.models import OutboxJob
    from wallets.gateway import SEND_JOB, SIGNER_QUEUE

    session_factory = pg_session_factory
    await _deposit(session_factory, deriver, evm, 8_000_000)
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    async with session_factory() as session, session.begin():
        ticket = await gateway.request_withdrawal(
            session=session,
            request_key="gw-1",
            owner_type="customer",
            owner_id=1,
            asset=USDT,
            address=RECIPIENT.lower(),
            amount=Money.of(5, USDT),
            fee=Money.of(1, USDT),
        )
    assert ticket.address == RECIPIENT and ticket.status == "held"
    with pytest.raises(RuntimeError):  # a flow that fails after asking leaves nothing behind
        async with session_factory() as session, session.begin():
            await gateway.request_withdrawal(
                session=session,
                request_key="gw-2",
                owner_type="customer",
                owner_id=1,
                asset=USDT,
                address=RECIPIENT,
                amount=Money.of(1, USDT),
                fee=Money.zero(USDT),
            )
            raise RuntimeError("the flow failed later")
    async with session_factory() as session:
        jobs = (
            (await session.execute(select(OutboxJob).where(OutboxJob.queue == SIGNER_QUEUE))).scalars().all()
        )
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=USDT
        )
        available = await ledger.available(session=session, account_id=wallet.id)
    assert [(j.job, j.queue, j.kwargs) for j in jobs] == [
        (SEND_JOB, SIGNER_QUEUE, {"withdrawal_id": ticket.withdrawal_id})
    ]
    assert available == Money.of(2, USDT)
