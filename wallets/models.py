"""Tables of the wallets package: deposit addresses, index counters, chain cursors, detected deposits,
withdrawals. Amounts of our assets are integer base units (satoshi, USDT 6-decimal units).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class AddressCounter(Base):
    """The next free derivation index per network; updated atomically (row-locked) on allocation."""

    __tablename__ = "wallet_address_counters"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DepositAddress(Base):
    """One address per owner per network (owner: a customer, later a merchant invoice)."""

    __tablename__ = "deposit_addresses"
    __table_args__ = (
        UniqueConstraint("network", "chain", "derivation_index"),
        UniqueConstraint("network", "address"),
        UniqueConstraint("owner_type", "owner_id", "network"),
        # the address pool (wallets.service.claim_pooled: the oldest pooled address per network)
        Index(
            "ix_deposit_addresses_pool",
            "network",
            "id",
            postgresql_where=text("owner_type = 'pool'"),
            sqlite_where=text("owner_type = 'pool'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(16), nullable=False)
    address: Mapped[str] = mapped_column(String(128), nullable=False)
    derivation_index: Mapped[int] = mapped_column(Integer, nullable=False)
    chain: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # 0 receive, 1 change (house)
    owner_type: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ChainCursor(Base):
    """How far a monitor has scanned: the last processed block's height and hash."""

    __tablename__ = "chain_cursors"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    height: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # the node's best height when the scanner last looked: tip_height - height is its lag in blocks
    tip_height: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ChainBlock(Base):
    """Recent scanned blocks (height -> hash), to find the fork point when a reorg is seen."""

    __tablename__ = "chain_blocks"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    height: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(String(80), nullable=False)


class ChainDeposit(Base):
    """An incoming transfer seen on chain, recorded once per (network, txid, log index or vout).

    status: detected -> credited (to the owner) | suspense (unknown token, dust);
    detected -> orphaned (reorg).
    """

    __tablename__ = "chain_deposits"
    __table_args__ = (UniqueConstraint("network", "txid", "log_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    txid: Mapped[str] = mapped_column(String(80), nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)
    block_height: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(String(80), nullable=False)
    token: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    address: Mapped[str] = mapped_column(String(128), nullable=False)
    raw_amount: Mapped[str] = mapped_column(String(80), nullable=False)  # integer base units, any size
    amount_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    deposit_address_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="detected", index=True)
    reason: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    entry_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    spent_by: Mapped[str] = mapped_column(String(80), nullable=False, default="")  # BTC: spending txid
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Withdrawal(Base):
    """A customer's on-chain withdrawal: held in the ledger, signed, broadcast, confirmed, posted."""

    __tablename__ = "chain_withdrawals"
    __table_args__ = (UniqueConstraint("request_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(String(128), nullable=False)
    network: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_type: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    address: Mapped[str] = mapped_column(String(128), nullable=False)
    amount_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False)
    fee_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False, default=0)
    # the part of fee_minor charged for the network fee (the quote's estimate); 0: none was charged
    network_fee_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False, default=0, server_default="0")
    network_fee_native: Mapped[str] = mapped_column(String(80), nullable=False, default="0")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="held", index=True)
    hold_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    txid: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    nonce: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    raw_tx: Mapped[str] = mapped_column(Text, nullable=False, default="")
    gas_price_wei: Mapped[str] = mapped_column(String(80), nullable=False, default="0")
    replaced_txids: Mapped[str] = mapped_column(Text, nullable=False, default="")  # space-separated
    block_height: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entry_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
