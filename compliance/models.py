"""Compliance tables: KYC tiers and profiles, documents, the movements the gate saw, sanctions
list versions and screening results, monitoring rules, alerts, cases and regulatory reports.

Customers live in core.identity; they are referenced here by integer `customer_id` only.
Money is integer minor units of KES (`*_kes` columns) unless the column says otherwise.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
CustomerId = BigInteger  # customers.id is 64-bit, as core.identity's table has it


class MovementKind(StrEnum):
    BUY = "buy"
    SELL = "sell"
    SEND = "send"
    WITHDRAW = "withdraw"
    DEPOSIT = "deposit"
    RECEIVE = "receive"


INBOUND_KINDS = frozenset({MovementKind.DEPOSIT, MovementKind.RECEIVE, MovementKind.BUY})
OUTBOUND_KINDS = frozenset({MovementKind.SELL, MovementKind.SEND, MovementKind.WITHDRAW})


class AlertStatus(StrEnum):
    OPEN = "open"
    IN_CASE = "in_case"
    DISMISSED = "dismissed"


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"  # STR being prepared: the 2-day clock runs
    STR_DRAFTED = "str_drafted"  # the goAML XML is built, not yet filed with the FRC: the clock still runs
    REPORTED = "reported"  # STR filed: staff recorded the FRC's reference and the filing date
    CLOSED = "closed"


class Disposition(StrEnum):
    FALSE_POSITIVE = "false_positive"
    NO_FURTHER_ACTION = "no_further_action"
    ENHANCED_MONITORING = "enhanced_monitoring"
    EXIT_RELATIONSHIP = "exit_relationship"
    STR_FILED = "str_filed"


class KycTier(Base):
    """A configurable tier. Limits are KES minor units; 0 on crypto withdrawal means not allowed."""

    __tablename__ = "compliance_kyc_tiers"

    tier: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))
    requirements: Mapped[list[str]] = mapped_column(JSON, default=list)
    per_transaction_kes: Mapped[int] = mapped_column(MinorUnits)
    daily_kes: Mapped[int] = mapped_column(MinorUnits)
    monthly_kes: Mapped[int] = mapped_column(MinorUnits)
    max_balance_kes: Mapped[int] = mapped_column(MinorUnits)
    crypto_withdrawal_kes: Mapped[int] = mapped_column(MinorUnits)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")


class KycProfile(Base):
    """What compliance knows about one customer: tier, verified identity, freeze, sanctions."""

    __tablename__ = "compliance_kyc_profiles"

    customer_id: Mapped[int] = mapped_column(CustomerId, primary_key=True, autoincrement=False)
    tier: Mapped[int] = mapped_column(Integer, default=0)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    id_type: Mapped[str] = mapped_column(String(24), default="national_id")
    id_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    iprs_status: Mapped[str] = mapped_column(String(16), default="none")  # none|matched|mismatch|not_found
    iprs_reference: Mapped[str] = mapped_column(String(64), default="")
    t2_review: Mapped[str] = mapped_column(String(16), default="none")  # none|pending|approved|rejected
    reviewed_by: Mapped[str] = mapped_column(String(80), default="")
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen_reason: Mapped[str] = mapped_column(String(200), default="")
    sanctions_outcome: Mapped[str] = mapped_column(String(8), default="clear")
    sanctions_score: Mapped[int] = mapped_column(Integer, default=0)  # score x 1000
    sanctions_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sanctions_list_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KycDocument(Base):
    """An ID photo or selfie, sealed with core.security envelopes; kept until `retain_until`."""

    __tablename__ = "compliance_kyc_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(CustomerId, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # id_front | id_back | selfie
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime)


class Movement(Base):
    """Every money movement the gate was asked about, with its decision. Monitoring reads these."""

    __tablename__ = "compliance_movements"
    __table_args__ = (
        Index("ix_compliance_movements_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_compliance_movements_counterparty", "counterparty"),
        Index("ix_compliance_movements_reference", "reference"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(CustomerId)
    kind: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    amount_kes: Mapped[int] = mapped_column(MinorUnits)
    counterparty: Mapped[str] = mapped_column(String(128), default="")
    decision: Mapped[str] = mapped_column(String(8))
    reason_code: Mapped[str] = mapped_column(String(48), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the movement's own key (a payout's idempotency key): a refused payout reverses its movement
    reference: Mapped[str] = mapped_column(String(160), default="", server_default="")


class SanctionsListVersion(Base):
    """One complete load of the lists. Exactly one row is active; loading switches atomically."""

    __tablename__ = "compliance_sanctions_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # gzip of the entities as JSON
    loaded_by: Mapped[str] = mapped_column(String(80), default="cli")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScreeningResult(Base):
    __tablename__ = "compliance_screening_results"
    __table_args__ = (Index("ix_compliance_screening_results_subject", "subject_type", "subject_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # customer | address
    subject_ref: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(CustomerId, nullable=True)
    outcome: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)  # x 1000
    list_version: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitoringRule(Base):
    """A rule's parameters live here (COMPLIANCE.md section 4); `mode` block|review run in the
    gate, monitor runs after the fact on the queue."""

    __tablename__ = "compliance_rules"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(8), default="monitor")
    score: Mapped[int] = mapped_column(Integer, default=50)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")


class Alert(Base):
    __tablename__ = "compliance_alerts"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160))
    customer_id: Mapped[int | None] = mapped_column(CustomerId, nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(16))  # rule | sanctions | gate
    rule_code: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    movement_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default=AlertStatus.OPEN.value, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_cases.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Case(Base):
    __tablename__ = "compliance_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(CustomerId, nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value, index=True)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    assigned_to: Mapped[str] = mapped_column(String(80), default="")
    suspicion_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    str_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    grounds: Mapped[str] = mapped_column(Text, default="")  # the STR narrative
    disposition: Mapped[str] = mapped_column(String(24), default="")
    disposition_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CaseEvent(Base):
    """The case's history: notes, assignments, evidence and status changes (append-only)."""

    __tablename__ = "compliance_case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("compliance_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # note | assign | evidence | status | report
    actor: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text, default="")
    movement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegulatoryReport(Base):
    """A generated goAML report (STR from a case, CTR from daily totals), kept 7 years."""

    __tablename__ = "compliance_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_code: Mapped[str] = mapped_column(String(8))  # STR | CTR
    case_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_cases.id"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(CustomerId, nullable=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    xml: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # filed with the FRC
    frc_reference: Mapped[str] = mapped_column(String(64), default="", server_default="")


class LimitChange(Base):
    """A proposed change to a tier's limits: maker-checker, applied only when a different staff
    member approves it."""

    __tablename__ = "compliance_limit_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tier: Mapped[int] = mapped_column(Integer)
    changes_kes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # limit -> Decimal string
    reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending|applied|rejected
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str] = mapped_column(String(80), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
