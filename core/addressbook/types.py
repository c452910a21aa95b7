"""Saved-address views and the network names, shared with outer packages (the table is in models.py)."""

from __future__ import annotations

from dataclasses import dataclass

from core.money import Asset


@dataclass(frozen=True)
class SavedAddressView:
    """What a channel shows of a saved address: "Binance TRC20 (...Q7x9)"."""

    id: int
    label: str
    asset: Asset
    address: str

    @property
    def network(self) -> str:
        return NETWORK_NAMES[self.asset]

    @property
    def tail(self) -> str:
        return self.address[-4:]


NETWORK_NAMES = {Asset.BTC: "BTC", Asset.USDT_ERC20: "ERC20", Asset.USDT_TRC20: "TRC20"}
NETWORK_ASSETS = {name.lower(): asset for asset, name in NETWORK_NAMES.items()}
