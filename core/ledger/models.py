"""Ledger tables: accounts, immutable journal entries of postings, and two-phase holds.

Amounts are signed integer minor units: a positive posting credits an account, a negative one
debits it. Every entry nets to zero per currency. `accounts.balance` is the credit-normal posted
balance: maintained in place for constrained accounts (row-locked, never below `pending_out`),
and rolled up later for unconstrained system accounts, which take append-only postings so the fee
and liquidity accounts never become hot rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow
from core.money import Money

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OwnerType(StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    SYSTEM = "system"
    INVOICE = "invoice"  # a merchant invoice's own account per asset: what its payers paid


class AccountKind(StrEnum):
    WALLET = "wallet"  # a customer's or merchant's funds: constrained
    CUSTODY = "custody"  # what we hold on a chain
    MPESA_FLOAT = "mpesa_float"
    FEE_REVENUE = "fee_revenue"
    FX_REVENUE = "fx_revenue"
    FX_LIQUIDITY = "fx_liquidity"
    FX_GAIN_LOSS = "fx_gain_loss"  # merchant invoices: market value at settlement minus the locked rate
    PAYOUTS_IN_FLIGHT = "payouts_in_flight"
    SUSPENSE = "suspense"  # unmatched deposits, for staff
    NETWORK_FEES = "network_fees"
    NETWORK_FEE_GAIN_LOSS = "network_fee_gain_loss"  # network fees charged minus what the chains took
    CLAIMS = "claims"  # sends waiting for an unregistered recipient
    RAIL_CLEARING = "rail_clearing"  # KES a collection rail (PesaPal) confirmed and owes us


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


SYSTEM_OWNER_ID = 0


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("owner_type", "owner_id", "asset", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int] = mapped_column(Integer)
    asset: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    constrained: Mapped[bool] = mapped_column(Boolean)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(MinorUnits, default=0)
    pending_out: Mapped[int] = mapped_column(MinorUnits, default=0)
    rolled_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JournalEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(MinorUnits)


class Hold(Base):
    __tablename__ = "ledger_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(MinorUnits)
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.PENDING.value, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolution_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class PostingRequest:
    """One leg of an entry: negative debits the account, positive credits it."""

    account_id: int
    amount: Money


@dataclass(frozen=True)
class EntryResult:
    entry_id: int
    replayed: bool = False


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    replayed: bool = False
