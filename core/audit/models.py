"""The audit log: one row per event, each HMAC-chained to the previous one by `seq`.

`key_id` names the keyring key whose derived HMAC key sealed the row ("" = a row written before
the chain was keyed: `kibeti audit rekey` re-seals those)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.audit.models import ...` keeps working.
from core.audit.types import GENESIS_HASH as GENESIS_HASH
from core.db.base import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"
    # the staff portal's audit page filters by object, newest first (keyset on seq)
    __table_args__ = (Index("ix_audit_log_subject_seq", "subject", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False, default="", server_default="")


class AuditPending(Base):
    """An audit row a money write queued (PostgreSQL), not yet in the chain: money writes do not
    take the chain's lock; `core.audit.service.chain_pending` appends these rows, oldest first, in
    the transaction that deletes them. A trigger refuses edits; `kibeti ledger verify` checks every
    entry has its row, chained or queued."""

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
