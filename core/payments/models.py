"""M-Pesa tables: STK collections, payouts and the raw callback log.

Amounts are KES minor units (cents); M-Pesa moves whole shillings, so payouts always hold a multiple
of 100. A payout's id is its Daraja OriginatorConversationID (a UUID hex: unique across environments).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The enums and status sets live in types.py (outer packages import them from there);
# re-exported here so core's own `from core.payments.models import ...` keeps working.
from core.payments.types import FINAL_COLLECTION as FINAL_COLLECTION
from core.payments.types import FINAL_PAYOUT as FINAL_PAYOUT
from core.payments.types import IN_FLIGHT_PAYOUT as IN_FLIGHT_PAYOUT
from core.payments.types import C2BStatus as C2BStatus
from core.payments.types import CollectionStatus as CollectionStatus
from core.payments.types import PayoutRetryStatus as PayoutRetryStatus
from core.payments.types import PayoutStatus as PayoutStatus

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Payout(Base):
    __tablename__ = "payouts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="b2c")  # b2c | b2b
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    merchant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    account_id: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(16))  # 12-digit MSISDN (B2C) or shortcode (B2B)
    # B2B only: "till" (BusinessBuyGoods) or "paybill" (BusinessPayBill, with its AccountReference)
    receiver_kind: Mapped[str] = mapped_column(String(8), default="", server_default="")
    account_reference: Mapped[str] = mapped_column(String(20), default="", server_default="")
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    # the payout fee the customer paid for it (a sell's M-Pesa fee): refunded with a failed payout
    fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0, server_default="0")
    hold_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.CREATED.value, index=True)
    originator_conversation_id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status_query_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    receipt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result_desc: Mapped[str | None] = mapped_column(String(255), nullable=True)
    remarks: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # indexed: every claim sums the payouts submitted since midnight (the shortcode's daily value)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # when it entered `unknown` (None otherwise): the stuck-unknown age and staff alert; a status
    # query or a repeated unknown answer moves updated_at, never this
    unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MpesaCollection(Base):
    __tablename__ = "mpesa_collections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    account_id: Mapped[int] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(16))  # 12-digit MSISDN
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    reference: Mapped[str] = mapped_column(String(12), default="")
    status: Mapped[str] = mapped_column(String(16), default=CollectionStatus.CREATED.value, index=True)
    checkout_request_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    merchant_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    receipt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result_desc: Mapped[str | None] = mapped_column(String(255), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    raw_callback: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    flag_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class MpesaCallback(Base):
    """Every inbound Daraja callback, raw, before anything is done with it."""

    __tablename__ = "mpesa_callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    raw: Mapped[str] = mapped_column(Text, default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    processed: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    outcome: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    flag_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MpesaC2BPayment(Base):
    """A paybill payment as a confirmation claimed it, and as Daraja's Transaction Status confirmed it.

    The claimed amount is never booked: only `amount_minor`, from the status result of our own query
    (matched on that query's ConversationID), is."""

    __tablename__ = "mpesa_c2b_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trans_id: Mapped[str] = mapped_column(String(40), unique=True)
    claimed_minor: Mapped[int] = mapped_column(MinorUnits)
    amount_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    bill_ref: Mapped[str] = mapped_column(String(40), default="")
    payer: Mapped[str] = mapped_column(String(20), default="")  # masked by Safaricom
    customer_id: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, index=True
    )  # the account named
    shortcode: Mapped[str] = mapped_column(String(12), default="")
    status: Mapped[str] = mapped_column(String(16), default=C2BStatus.PENDING.value, index=True)
    query_originator_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    query_conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    queries: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PayoutRetry(Base):
    """A staff request to send a failed payout again (maker-checker). One per failed payout: the
    retry is a new payout whose idempotency key is derived from this row, so it is sent at most once."""

    __tablename__ = "payout_retries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payout_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=PayoutRetryStatus.PENDING.value, index=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    maker_id: Mapped[int] = mapped_column(BigInteger)
    checker_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    retry_payout_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
