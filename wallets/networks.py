"""The three chains we serve, and how assets map onto them. Funds stay separate per network."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.config import ACCOUNT_KEY_SETTINGS, WalletSettings
from core.config import BitcoinNet as BitcoinNet  # the setting's type, used across wallets
from core.money import Asset
from wallets.errors import UnsupportedAsset


class Network(StrEnum):
    BTC = "btc"
    ERC20 = "erc20"
    TRC20 = "trc20"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def asset(self) -> Asset:
        return _ASSETS[self]

    @classmethod
    def for_asset(cls, asset: Asset) -> Network:
        for network, network_asset in _ASSETS.items():
            if network_asset is asset:
                return network
        raise UnsupportedAsset(f"{asset.value} is not an on-chain asset")

    @classmethod
    def parse(cls, text: str) -> Network:
        key = text.strip().lower()
        aliases = {"bitcoin": "btc", "eth": "erc20", "ethereum": "erc20", "tron": "trc20", "trx": "trc20"}
        key = aliases.get(key, key)
        try:
            return cls(key)
        except ValueError as exc:
            raise UnsupportedAsset(f"unknown network {text!r}; use btc, erc20 or trc20") from exc


_LABELS = {
    Network.BTC: "Bitcoin",
    Network.ERC20: "Ethereum (USDT-ERC20)",
    Network.TRC20: "TRON (USDT-TRC20)",
}
_ASSETS = {Network.BTC: Asset.BTC, Network.ERC20: Asset.USDT_ERC20, Network.TRC20: Asset.USDT_TRC20}

# The blueprint's minimum confirmations: 3 BTC, 3 ERC20, 20 TRON (WalletSettings' defaults).
DEFAULT_CONFIRMATIONS = {Network.BTC: 3, Network.ERC20: 3, Network.TRC20: 20}


def account_keys(settings: WalletSettings) -> dict[Network, str]:
    """Each network's configured account key (xpub), empty when not set."""
    return {Network(name): key for name, key in settings.account_keys().items()}


def account_key_settings() -> dict[Network, str]:
    """The environment variable of each network's account key, for messages."""
    return {Network(name): variable for name, variable in ACCOUNT_KEY_SETTINGS.items()}


@dataclass(frozen=True)
class BitcoinParams:
    hrp: str
    p2pkh: int
    p2sh: int
    bitcoinlib_network: str


BITCOIN_PARAMS = {
    BitcoinNet.MAINNET: BitcoinParams("bc", 0x00, 0x05, "bitcoin"),
    BitcoinNet.TESTNET: BitcoinParams("tb", 0x6F, 0xC4, "testnet"),
    BitcoinNet.REGTEST: BitcoinParams("bcrt", 0x6F, 0xC4, "regtest"),
}
