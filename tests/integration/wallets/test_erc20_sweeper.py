"""Sweeping deposit addresses into the hot wallet on a real EVM: gas top-up first, then the
token transfer; uneconomical dust left alone; every gas payment booked in the ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.evm import EvmChain
from wallets.erc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Erc20Sender
from wallets.erc20.sweeper import Erc20Sweeper
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.networks import Network

USDT = Asset.USDT_ERC20


async def _system(sf: async_sessionmaker[AsyncSession], kind: AccountKind) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.system_account(session=session, kind=kind, asset=USDT)
        return await ledger.balance(session=session, account_id=account.id)


async def test_top_up_then_sweep_with_gas_booked(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    big = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=USDT)).address
    small = (await gateway.deposit_address(owner_type="customer", owner_id=2, asset=USDT)).address
    evm.pay(big, 500_000_000)  # 500 USDT
    evm.pay(small, 12_000_000)  # 12 USDT: gas would cost more than 1% of it
    hot = Erc20Sender(
        evm.aw3,
        token=evm.token.address,
        hot_private_key=test_seed.private_key(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN),
    )
    evm.send_eth(hot.hot_address, 10**18)
    sweeper = Erc20Sweeper(
        session_factory=session_factory,
        w3=evm.aw3,
        token=evm.token.address,
        seed=test_seed,
        hot=hot,
        native_price=lambda: Decimal(3000),
        min_sweep_minor=10_000_000,
        max_fee_share=Decimal("0.01"),
    )
    first = await sweeper.sweep_once()
    assert first.topped_up == [big] and not first.swept and first.skipped_uneconomical == [small]
    second = await sweeper.sweep_once()
    assert second.swept == {big: 500_000_000}
    assert evm.token.functions.balanceOf(hot.hot_address).call() == 500_000_000
    assert evm.token.functions.balanceOf(big).call() == 0
    third = await sweeper.sweep_once()
    assert not third.swept and not third.topped_up
    spent = -(await _system(session_factory, AccountKind.NETWORK_FEES))  # an expense: debited
    assert spent.is_positive()
    assert await _system(session_factory, AccountKind.FX_LIQUIDITY) == spent


async def test_a_node_error_skips_the_address_and_the_gas_spent_is_booked(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain, test_seed: Seed
) -> None:
    """Issue 11 item 10: one address's node error neither ends the pass nor leaves its gas unbooked."""
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    first, broken, last = [
        (await gateway.deposit_address(owner_type="customer", owner_id=i, asset=USDT)).address
        for i in (1, 2, 3)
    ]
    for address in (first, broken, last):
        evm.pay(address, 500_000_000)
    hot = Erc20Sender(
        evm.aw3,
        token=evm.token.address,
        hot_private_key=test_seed.private_key(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN),
    )
    evm.send_eth(hot.hot_address, 10**18)
    sweeper = Erc20Sweeper(
        session_factory=session_factory, w3=evm.aw3, token=evm.token.address, seed=test_seed, hot=hot,
        native_price=lambda: Decimal(3000), max_fee_share=Decimal("0.01"),
    )  # fmt: skip
    topped = await sweeper.sweep_once()
    assert sorted(topped.topped_up) == sorted([first, broken, last])
    booked_after_top_ups = -(await _system(session_factory, AccountKind.NETWORK_FEES))

    chain = sweeper._chain
    real_balance = chain.token_balance

    async def node_fails_on_one(address: str) -> int:
        if address == broken:
            raise NodeError("eth_call: upstream timeout")
        return await real_balance(address)

    chain.token_balance = node_fails_on_one  # type: ignore[method-assign]
    report = await sweeper.sweep_once()
    assert report.swept == {first: 500_000_000, last: 500_000_000} and report.failed == [broken]
    assert evm.token.functions.balanceOf(hot.hot_address).call() == 1_000_000_000
    spent = -(await _system(session_factory, AccountKind.NETWORK_FEES))
    assert spent > booked_after_top_ups  # the two sweeps' gas is booked
    assert await _system(session_factory, AccountKind.FX_LIQUIDITY) == spent

    chain.token_balance = real_balance  # type: ignore[method-assign]
    assert (await sweeper.sweep_once()).swept == {broken: 500_000_000}  # retried on the next pass
