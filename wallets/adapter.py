"""Build the wallets adapters from settings (wired by webapp.bootstrap, and only there).

API processes get the watch-only WalletGateway (account xpubs only), each key checked at start-up
(wallets.hd.derivation.check_account_key). Only the embedded demo (no Redis, not production) or a test run
falls back, with no xpubs configured, to a published test mnemonic's xpubs, so it works with zero
setup; those addresses are public knowledge, so every deposit-address screen and SMS says DEMO.
Any other process refuses to start without the keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from core.config import Settings, WalletSettings
from core.runtime import Runtime
from wallets.errors import WalletNotConfigured
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.networks import BitcoinNet, Network, account_key_settings, account_keys
from wallets.scanning.chain import ChainSimulation, ChainSource, SimulatedSource
from wallets.scanning.monitor import DepositMonitor, MonitorConfig, StepResult
from wallets.withdrawals.fees import FeePolicy, NetworkFeeEstimator

log = logging.getLogger(__name__)

# BIP39 test mnemonic (BIP84 test vectors): DEVELOPMENT ONLY, everyone knows its keys.
DEV_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def dev_account_keys(btc_net: BitcoinNet) -> dict[Network, str]:
    from wallets.hd.keys import Seed, seed_from_mnemonic

    seed = Seed(seed_from_mnemonic(DEV_MNEMONIC), btc_net=btc_net)
    return {network: seed.account_xpub(network) for network in Network}


def demo_keys_allowed(core: Settings) -> bool:
    """The public development keys are for the embedded demo (no Redis) and test runs only."""
    return not core.is_production and (core.embedded or core.kibeti_env == "test")


def deriver_for(settings: WalletSettings, core: Settings) -> AddressDeriver:
    keys = {network: key for network, key in account_keys(settings).items() if key}
    names = account_key_settings()
    if keys:
        return AddressDeriver(keys, btc_net=settings.bitcoin_net, settings=names)
    if not demo_keys_allowed(core):
        raise WalletNotConfigured(
            f"no wallet account keys are set ({', '.join(names.values())}): outside the embedded demo "
            "a process will not fall back to the public development mnemonic, whose funds anyone can take"
        )
    log.warning("no wallet xpubs configured: using the public DEVELOPMENT mnemonic's addresses (DEMO)")
    return AddressDeriver(dev_account_keys(settings.bitcoin_net), btc_net=settings.bitcoin_net, demo=True)


def node_url(runtime: Runtime, network: Network) -> str:
    return {
        Network.ERC20: runtime.settings.ethereum_rpc_url,
        Network.TRC20: runtime.settings.tron_rpc_url,
        Network.BTC: runtime.settings.bitcoin_rpc_url,
    }[network]


def chain_simulation(runtime: Runtime) -> ChainSimulation | None:
    """The simulated chains bootstrap wired (outside production only), or None."""
    simulation: ChainSimulation | None = runtime.chain_simulation
    return simulation


def simulated(runtime: Runtime, network: Network) -> bool:
    """Outside production a network with no node URL runs on the simulated chain."""
    return not node_url(runtime, network) and chain_simulation(runtime) is not None


def simulated_chain(runtime: Runtime, network: Network) -> SimulatedSource:
    simulation = chain_simulation(runtime)
    if simulation is None:
        raise WalletNotConfigured(f"no node URL configured for {network.label}")
    return simulation.chain(network)


def simulated_chain_fee(runtime: Runtime, network: Network) -> int:
    simulation = chain_simulation(runtime)
    return simulation.network_fee(network) if simulation is not None else 0


def build(runtime: Runtime) -> Any:
    settings = runtime.settings.wallets
    deriver = deriver_for(settings, runtime.settings)
    core = runtime.settings
    estimator = NetworkFeeEstimator(
        policy=FeePolicy(
            eth_price=Decimal(settings.eth_price_usdt),
            trx_price=Decimal(settings.trx_price_usdt),
            btc_quote_inputs=settings.btc_quote_inputs,
        ),
        deriver=deriver,
        node_urls={network: node_url(runtime, network) for network in Network},
        erc20_token=core.usdt_erc20_contract,
        trc20_contract=core.usdt_trc20_contract,
        simulated_fees={n: simulated_chain_fee(runtime, n) for n in Network if simulated(runtime, n)},
    )
    return WalletGateway(
        session_factory=runtime.session_factory,
        deriver=deriver,
        btc_net=settings.bitcoin_net,
        gate=lambda: runtime.compliance,  # built after the chains adapter: look it up when used
        withdrawable=frozenset(n for n in Network if node_url(runtime, n) or simulated(runtime, n)),
        fee_estimator=estimator,
        dust_minor={
            Network.BTC: settings.btc_dust_sat,
            Network.ERC20: settings.erc20_dust_minor,
            Network.TRC20: settings.trc20_dust_minor,
        },
        confirmations={network: settings.confirmations(network) for network in Network},
    )


def build_source(runtime: Runtime, network: Network, settings: WalletSettings) -> ChainSource:
    """The node client for `network`, or the simulated chain when no node URL is configured."""
    core_settings = runtime.settings
    if network is Network.ERC20 and core_settings.ethereum_rpc_url:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        from wallets.erc20.source import Erc20Source

        w3 = AsyncWeb3(AsyncHTTPProvider(core_settings.ethereum_rpc_url))
        tokens = [core_settings.usdt_erc20_contract] if core_settings.usdt_erc20_contract else None
        return Erc20Source(w3, tokens=tokens)
    if network is Network.TRC20 and core_settings.tron_rpc_url:
        from wallets.trc20.source import Trc20Source

        client = httpx.AsyncClient(base_url=core_settings.tron_rpc_url, timeout=30)
        return Trc20Source(client, contract=core_settings.usdt_trc20_contract)
    if network is Network.BTC and core_settings.bitcoin_rpc_url:
        from wallets.btc.source import EsploraSource

        return EsploraSource(httpx.AsyncClient(base_url=core_settings.bitcoin_rpc_url, timeout=30))
    if not simulated(runtime, network):
        raise WalletNotConfigured(f"no node URL configured for {network.label}")
    return simulated_chain(runtime, network)


def build_monitor(
    runtime: Runtime, network: Network, *, on_progress: Callable[[StepResult], None] | None = None
) -> DepositMonitor:
    settings = runtime.settings.wallets
    source = build_source(runtime, network, settings)
    token = {
        Network.ERC20: runtime.settings.usdt_erc20_contract,
        Network.TRC20: runtime.settings.usdt_trc20_contract,
        Network.BTC: "",
    }[network]
    if simulated(runtime, network):
        token = simulated_chain(runtime, network).token
    dust = {
        Network.BTC: settings.btc_dust_sat,
        Network.ERC20: settings.erc20_dust_minor,
        Network.TRC20: settings.trc20_dust_minor,
    }[network]
    config = MonitorConfig(
        confirmations=settings.confirmations(network),
        batch_blocks=settings.erc20_scan_batch if network is Network.ERC20 else 100,
        start_height=settings.erc20_start_block if network is Network.ERC20 else 0,
        dust_minor=dust,
        token=token,
    )
    return DepositMonitor(
        source=source, session_factory=runtime.session_factory, config=config, on_progress=on_progress
    )


async def close_source(source: ChainSource) -> None:
    """Close a source's HTTP sessions (web3's aiohttp session, or the httpx client)."""
    client = getattr(source, "_client", None)
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()
    w3 = getattr(source, "_w3", None)
    disconnect = getattr(getattr(w3, "provider", None), "disconnect", None)
    if disconnect is not None:
        await disconnect()
