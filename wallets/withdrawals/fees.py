"""Network fee estimates for withdrawal quotes, in the asset withdrawn (issue 11 item 2).

The customer is charged the estimate (passed on per the fee schedule's network rule) and it is held
with the amount; on confirmation the difference between it and what the chain charged is booked to
the network-fee gain/loss account (wallets.withdrawals.lifecycle.post_confirmed).

- USDT-ERC20: the node's current gas price x the gas of this transfer from the hot wallet
  (eth_estimateGas, plus the margin the sender signs with), in USDT at the configured ETH price.
- USDT-TRC20: the TRX the transfer would burn for energy beyond the hot wallet's staked energy, and
  for its bandwidth (the daily free bandwidth is not counted on: a busy hot wallet uses it up
  early), priced by the chain parameters, in USDT at the configured TRX price.
- BTC: the node's fee rate for the confirmation target x the vsize of a P2WPKH withdrawal (one
  payee output plus change) with as many inputs as the coins in custody need to pay it, largest
  first as withdrawals select them (`btc_quote_inputs` when custody cannot cover it yet).
- On the embedded default's simulated chains: the simulated chain's fixed fees, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from core.money import Money
from wallets.btc.fees import fee_rate, fee_sats, inputs_needed
from wallets.errors import NodeError, WalletNotConfigured
from wallets.hd.derivation import AddressDeriver
from wallets.networks import Network
from wallets.withdrawals.lifecycle import native_to_asset

ERC20_TRANSFER_GAS = 65_000  # when the node cannot estimate (the hot wallet is still empty)
GAS_LIMIT_MARGIN_PERCENT = 20  # as wallets.erc20.sender signs with
NATIVE_DECIMALS = {Network.ERC20: 18, Network.TRC20: 6}
HOT_WALLET_CHAIN, HOT_WALLET_INDEX = 1, 0  # m/44'/60'/0'/1/0 and m/44'/195'/0'/1/0 (the senders')


@dataclass(frozen=True)
class FeePolicy:
    eth_price: Decimal  # USDT per ETH
    trx_price: Decimal  # USDT per TRX
    btc_target_blocks: int = 3
    btc_quote_inputs: int = 2  # inputs a BTC withdrawal is quoted for when custody cannot pay it yet


class NetworkFeeEstimator:
    """Estimates over the configured nodes; `simulated` networks use the simulated chain's fees."""

    def __init__(
        self,
        *,
        policy: FeePolicy,
        deriver: AddressDeriver,
        node_urls: dict[Network, str],
        erc20_token: str = "",
        trc20_contract: str = "",
        simulated_fees: dict[Network, int] | None = None,  # native base units per simulated network
        erc20_w3: Any = None,  # an open AsyncWeb3 to use instead of one per estimate (tests)
    ) -> None:
        self._w3 = erc20_w3
        self._policy = policy
        self._deriver = deriver
        self._urls = node_urls
        self._token = erc20_token
        self._contract = trc20_contract
        self._simulated = simulated_fees or {}

    def _price(self, network: Network) -> Decimal:
        return self._policy.eth_price if network is Network.ERC20 else self._policy.trx_price

    def _in_asset(self, network: Network, native: int) -> Money:
        if network is Network.BTC:
            return Money.from_minor(native, network.asset)
        return native_to_asset(
            native, decimals=NATIVE_DECIMALS[network], native_price=self._price(network), asset=network.asset
        )

    async def estimate(
        self, network: Network, *, to: str, amount_minor: int, coins: list[int] | None = None
    ) -> Money:
        """The network fee of withdrawing `amount_minor` to `to`, in the network's asset (rounded up);
        `coins`: the values of BTC custody's spendable coins."""
        if network in self._simulated:
            return self._in_asset(network, self._simulated[network])
        url = self._urls.get(network, "")
        if network is Network.ERC20 and self._w3 is not None:
            return self._in_asset(network, await self._erc20_wei(url, to, amount_minor))
        if not url:
            raise WalletNotConfigured(f"no node configured to estimate {network.label} network fees")
        if network is Network.ERC20:
            return self._in_asset(network, await self._erc20_wei(url, to, amount_minor))
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            if network is Network.TRC20:
                from wallets.trc20.fees import TRC20_TRANSFER_BYTES, chain_prices, estimate_transfer

                hot = self._deriver.address(Network.TRC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
                quote = await estimate_transfer(
                    client, owner=hot, contract=self._contract, to=to, amount=amount_minor
                )
                _, byte_price = await chain_prices(client)
                unburned_bytes = TRC20_TRANSFER_BYTES - quote.bandwidth_burn
                return self._in_asset(network, quote.sun + unburned_bytes * byte_price)
            rate = await fee_rate(client, target_blocks=self._policy.btc_target_blocks)
            inputs = inputs_needed(coins or [], amount_minor, rate) or self._policy.btc_quote_inputs
            return self._in_asset(network, fee_sats(rate, inputs=inputs, outputs=2))

    async def _erc20_wei(self, url: str, to: str, amount_minor: int) -> int:
        if self._w3 is not None:
            return await erc20_fee_wei(
                self._w3, token=self._token, hot=self._hot_erc20(), to=to, amount=amount_minor
            )
        from web3 import AsyncHTTPProvider, AsyncWeb3

        w3: Any = AsyncWeb3(AsyncHTTPProvider(url))
        try:
            return await erc20_fee_wei(
                w3, token=self._token, hot=self._hot_erc20(), to=to, amount=amount_minor
            )
        finally:
            await w3.provider.disconnect()

    def _hot_erc20(self) -> str:
        return self._deriver.address(Network.ERC20, HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)


async def erc20_fee_wei(w3: Any, *, token: str, hot: str, to: str, amount: int) -> int:
    """Current gas price x the transfer's gas (with the sender's margin), in wei."""
    from eth_utils.address import to_checksum_address

    from wallets.erc20.sender import MIN_ABI

    try:
        price = int(await w3.eth.gas_price)
    except Exception as exc:
        raise NodeError(f"eth_gasPrice failed: {exc}") from exc
    contract = w3.eth.contract(address=to_checksum_address(token), abi=MIN_ABI)
    try:
        call = contract.functions.transfer(to_checksum_address(to), amount)
        gas = int(await call.estimate_gas({"from": to_checksum_address(hot), "gasPrice": 0}))
    except Exception:  # the hot wallet cannot cover it yet: a typical transfer's gas
        gas = ERC20_TRANSFER_GAS
    return gas * (100 + GAS_LIMIT_MARGIN_PERCENT) // 100 * price
