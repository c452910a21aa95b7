"""Settings of the chain wallets, read from the environment (beside core.config.Settings).

API processes get account xpubs only; the sealed seed is read by the signer worker alone.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from wallets.networks import DEFAULT_CONFIRMATIONS, BitcoinNet, Network


class WalletSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    btc_account_xpub: str = ""  # zpub of m/84'/0'/0' (vpub of m/84'/1'/0' on test nets)
    eth_account_xpub: str = ""  # xpub of m/44'/60'/0'
    tron_account_xpub: str = ""  # xpub of m/44'/195'/0'
    bitcoin_net: BitcoinNet = BitcoinNet.MAINNET
    btc_confirmations: int = DEFAULT_CONFIRMATIONS[Network.BTC]
    erc20_confirmations: int = DEFAULT_CONFIRMATIONS[Network.ERC20]
    trc20_confirmations: int = DEFAULT_CONFIRMATIONS[Network.TRC20]
    erc20_scan_batch: int = 500  # blocks per eth_getLogs call
    erc20_start_block: int = 0
    erc20_dust_minor: int = 10_000  # 0.01 USDT
    trc20_dust_minor: int = 10_000
    btc_dust_sat: int = 546
    btc_quote_inputs: int = 2  # inputs a BTC withdrawal is quoted for when custody cannot pay it yet
    wallets_scan_in_scheduler: bool = False  # real nodes are watched by `kibeti worker chain`
    eth_price_usdt: str = "3000"  # USDT per ETH, to book gas paid in ETH as a USDT network fee
    trx_price_usdt: str = "0.25"  # USDT per TRX, likewise for TRX burned for energy/bandwidth
    hot_wallet_min_usdt_minor: int = 1_000_000_000  # alert staff below 1,000 USDT
    hot_wallet_min_gas_wei: int = 10**17  # alert staff below 0.1 ETH
    withdrawal_stuck_blocks: int = 30  # re-price a withdrawal still pending after this many blocks
    wallet_seed_sealed: str = ""  # core.security.envelope sealed seed: the signer worker only

    @staticmethod
    def account_key_settings() -> dict[Network, str]:
        """The environment variable of each network's account key, for messages."""
        return {
            Network.BTC: "BTC_ACCOUNT_XPUB",
            Network.ERC20: "ETH_ACCOUNT_XPUB",
            Network.TRC20: "TRON_ACCOUNT_XPUB",
        }

    def account_keys(self) -> dict[Network, str]:
        return {
            Network.BTC: self.btc_account_xpub,
            Network.ERC20: self.eth_account_xpub,
            Network.TRC20: self.tron_account_xpub,
        }

    def confirmations(self, network: Network) -> int:
        return {
            Network.BTC: self.btc_confirmations,
            Network.ERC20: self.erc20_confirmations,
            Network.TRC20: self.trc20_confirmations,
        }[network]
