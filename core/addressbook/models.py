"""The saved-address table: one row per (customer, network, address)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.addressbook.models import ...` keeps working.
from core.addressbook.types import NETWORK_ASSETS as NETWORK_ASSETS
from core.addressbook.types import NETWORK_NAMES as NETWORK_NAMES
from core.addressbook.types import SavedAddressView as SavedAddressView
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


def view_of(row: SavedAddress) -> SavedAddressView:
    return SavedAddressView(id=row.id, label=row.label, asset=Asset(row.asset), address=row.address)
