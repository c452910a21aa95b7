"""The signer side: opens the sealed seed (WALLET_SEED_SEALED, sealed with the master passphrase's
keyring) and builds the withdrawal processors. Only the signer worker calls this; API processes
never hold a private key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Protocol

import httpx

from core.config import WalletSettings
from core.runtime import Runtime
from core.security.keyring import keyring_from_settings
from wallets.adapter import chain_simulation, node_url
from wallets.btc.source import EsploraClient
from wallets.btc.withdrawals import BtcWithdrawals
from wallets.erc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX, Erc20Sender
from wallets.erc20.withdrawals import EvmWithdrawals
from wallets.errors import WalletNotConfigured
from wallets.hd.custody import open_seed
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.networks import Network, account_key_settings, account_keys
from wallets.trc20.sender import HOT_WALLET_CHAIN as TRON_HOT_CHAIN
from wallets.trc20.sender import HOT_WALLET_INDEX as TRON_HOT_INDEX
from wallets.trc20.sender import Trc20Sender
from wallets.trc20.withdrawals import TronWithdrawals


def load_seed(runtime: Runtime) -> Seed:
    settings = runtime.settings.wallets
    if not settings.wallet_seed_sealed:
        raise WalletNotConfigured("WALLET_SEED_SEALED is not set: the signer has no keys")
    seed = open_seed(
        settings.wallet_seed_sealed,
        keyring=keyring_from_settings(runtime.settings),
        btc_net=settings.bitcoin_net,
    )
    check_seed_matches(seed, settings)
    return seed


def check_seed_matches(seed: Seed, settings: WalletSettings) -> None:
    """The API processes' account keys must be this seed's: else deposits would go to addresses the
    signer cannot sweep, and withdrawals would draw on keys nobody watches."""
    names = account_key_settings()
    for network, configured in account_keys(settings).items():
        if configured and configured.strip() != seed.account_xpub(network):
            raise WalletNotConfigured(
                f"{names[network]} is not the account key of WALLET_SEED_SEALED (BITCOIN_NET="
                f"{settings.bitcoin_net.value}): the signer would not hold the keys of its addresses"
            )


@asynccontextmanager
async def evm_withdrawals(runtime: Runtime) -> AsyncIterator[EvmWithdrawals]:
    """The USDT-ERC20 withdrawal processor over the configured node; closes its HTTP session after."""
    if not runtime.settings.ethereum_rpc_url:
        raise WalletNotConfigured("ETHEREUM_RPC_URL is not set: USDT-ERC20 withdrawals need a node")
    from web3 import AsyncHTTPProvider, AsyncWeb3

    w3: Any = AsyncWeb3(AsyncHTTPProvider(runtime.settings.ethereum_rpc_url))
    try:
        yield evm_withdrawals_on(runtime, w3)
    finally:
        await w3.provider.disconnect()


def evm_withdrawals_on(runtime: Runtime, w3: Any) -> EvmWithdrawals:
    """The USDT-ERC20 withdrawal processor with the hot wallet key (m/44'/60'/0'/1/0)."""
    settings = runtime.settings.wallets
    seed = load_seed(runtime)
    sender = Erc20Sender(
        w3,
        token=runtime.settings.usdt_erc20_contract,
        hot_private_key=seed.private_key(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN),
    )
    rate = Decimal(settings.eth_price_usdt)
    return EvmWithdrawals(
        session_factory=runtime.session_factory,
        sender=sender,
        confirmations=settings.confirmations(Network.ERC20),
        native_price=lambda: rate,
    )


class WithdrawalProcessor(Protocol):
    async def send(self, withdrawal_id: int) -> str: ...

    async def track(self, withdrawal_id: int) -> str: ...


@asynccontextmanager
async def withdrawals_for(runtime: Runtime, network: Network) -> AsyncIterator[WithdrawalProcessor]:
    """The withdrawal processor of `network` over its configured node (signer worker only), or
    over the simulated chain outside production when no node is configured."""
    settings = runtime.settings.wallets
    simulation = chain_simulation(runtime)
    if simulation is not None and not node_url(runtime, network):
        price = {Network.ERC20: settings.eth_price_usdt, Network.TRC20: settings.trx_price_usdt}.get(network)
        yield simulation.withdrawals(
            session_factory=runtime.session_factory,
            network=network,
            confirmations=settings.confirmations(network),
            native_price=Decimal(price) if price else None,
        )
        return
    if network is Network.ERC20:
        async with evm_withdrawals(runtime) as evm:
            yield evm
        return
    url = node_url(runtime, network)
    if not url:
        raise WalletNotConfigured(f"no node URL configured for {network.label} withdrawals")
    seed = load_seed(runtime)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        if network is Network.BTC:
            deriver = AddressDeriver(
                {Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=settings.bitcoin_net
            )
            yield BtcWithdrawals(
                session_factory=runtime.session_factory,
                node=EsploraClient(client),
                seed=seed,
                deriver=deriver,
                confirmations=settings.confirmations(Network.BTC),
            )
            return
        sender = Trc20Sender(
            client,
            contract=runtime.settings.usdt_trc20_contract,
            hot_private_key=seed.private_key(Network.TRC20, TRON_HOT_INDEX, chain=TRON_HOT_CHAIN),
        )
        rate = Decimal(settings.trx_price_usdt)
        yield TronWithdrawals(
            session_factory=runtime.session_factory,
            sender=sender,
            confirmations=settings.confirmations(Network.TRC20),
            native_price=lambda: rate,
        )


async def sweep_all(runtime: Runtime) -> dict[str, int]:
    """One sweep pass on each token network with a node: returns how many addresses were swept."""
    settings = runtime.settings.wallets
    seed = load_seed(runtime)
    swept: dict[str, int] = {}
    if runtime.settings.ethereum_rpc_url and runtime.settings.usdt_erc20_contract:
        async with evm_withdrawals(runtime) as evm:
            from wallets.erc20.sweeper import Erc20Sweeper

            eth_rate = Decimal(settings.eth_price_usdt)
            report = await Erc20Sweeper(
                session_factory=runtime.session_factory,
                w3=evm.sender.w3,
                token=runtime.settings.usdt_erc20_contract,
                seed=seed,
                hot=evm.sender,
                native_price=lambda: eth_rate,
            ).sweep_once()
            swept[Network.ERC20.value] = len(report.swept)
    if runtime.settings.tron_rpc_url and runtime.settings.usdt_trc20_contract:
        from wallets.trc20.sweeper import Trc20Sweeper

        async with httpx.AsyncClient(base_url=runtime.settings.tron_rpc_url, timeout=30) as client:
            hot = Trc20Sender(
                client,
                contract=runtime.settings.usdt_trc20_contract,
                hot_private_key=seed.private_key(Network.TRC20, TRON_HOT_INDEX, chain=TRON_HOT_CHAIN),
            )
            trx_rate = Decimal(settings.trx_price_usdt)
            report_tron = await Trc20Sweeper(
                session_factory=runtime.session_factory,
                client=client,
                contract=runtime.settings.usdt_trc20_contract,
                seed=seed,
                hot=hot,
                native_price=lambda: trx_rate,
            ).sweep_once()
            swept[Network.TRC20.value] = len(report_tron.swept)
    return swept
