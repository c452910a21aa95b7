"""The saved-address table: one row per (customer, network, address)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow
from core.money import Asset

BigId = BigInteger().with_variant(Integer(), "sqlite")


class SavedAddress(Base):
    """An outside address a customer withdraws to, under their own label ("Binance")."""

    __tablename__ = "saved_addresses"
    __table_args__ = (UniqueConstraint("customer_id", "asset", "address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    label: Mapped[str] = mapped_column(String(24))
    asset: Mapped[str] = mapped_column(String(16))  # the network: BTC, USDT-ERC20, USDT-TRC20
    address: Mapped[str] = mapped_column(String(128))  # canonical form, as the chain adapter returned it
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


def view_of(row: SavedAddress) -> SavedAddressView:
    return SavedAddressView(id=row.id, label=row.label, asset=Asset(row.asset), address=row.address)
