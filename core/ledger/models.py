"""Ledger tables: accounts, immutable journal entries of postings, and two-phase holds.

Amounts are signed integer minor units: a positive posting credits an account, a negative one
debits it. Every entry nets to zero per currency. `accounts.balance` is the credit-normal posted
balance: maintained in place for constrained accounts (row-locked, never below `pending_out`),
and rolled up later for unconstrained system accounts, which take append-only postings so the fee
and liquidity accounts never become hot rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The ledger's enums and value objects live in types.py (outer packages import them from there);
# re-exported here so core's own `from core.ledger.models import ...` keeps working.
from core.ledger.types import SYSTEM_OWNER_ID as SYSTEM_OWNER_ID
from core.ledger.types import AccountKind as AccountKind
from core.ledger.types import EntryResult as EntryResult
from core.ledger.types import HoldResult as HoldResult
from core.ledger.types import HoldStatus as HoldStatus
from core.ledger.types import OwnerType as OwnerType
from core.ledger.types import PostingRequest as PostingRequest

BigId = BigInteger().with_variant(Integer(), "sqlite")


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
    # no foreign key (ledger_0005): the posting function checks the account in the same transaction;
    # accounts are never deleted; `kibeti ledger verify` reports a posting without its account
    account_id: Mapped[int] = mapped_column(Integer)
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
