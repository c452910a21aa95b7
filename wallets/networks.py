"""The three chains we serve, and how assets map onto them. Funds stay separate per network."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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

# The blueprint's minimum confirmations: 3 BTC, 3 ERC20, 20 TRON.
DEFAULT_CONFIRMATIONS = {Network.BTC: 3, Network.ERC20: 3, Network.TRC20: 20}


class BitcoinNet(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"


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
