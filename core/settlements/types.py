"""Settlement, credit and refund enums and views, shared with outer packages (tables: models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CreditSource(StrEnum):
    INVOICE = "invoice"  # a merchant invoice paid in crypto (or M-Pesa) reached Settled
    KIBETI = "kibeti"  # a Kibeti customer paid from their wallet (USSD, Telegram)


class SettlementStatus(StrEnum):
    PAYING = "paying"  # the payout is on its way (held on the merchant's account)
    PAID = "paid"
    FAILED = "failed"  # M-Pesa refused it: the funds are back on the merchant's balance


@dataclass(frozen=True)
class MerchantView:
    """A merchant as a paying customer sees it: the registered name behind a till code."""

    id: int
    name: str
    till_code: str


class RefundStatus(StrEnum):
    AWAITING_ADDRESS = "awaiting_address"  # a crypto refund: the payer's one-time link is open
    SENDING = "sending"  # the withdrawal is staged
    COMPLETED = "completed"
    FAILED = "failed"


class RefundMethod(StrEnum):
    WALLET = "wallet"  # back to the payer's Kibeti wallet (paid from Kibeti)
    CRYPTO = "crypto"  # to an address the payer enters on a one-time link


@dataclass(frozen=True)
class CreditSummary:
    """A payment a merchant was credited for, as monitoring reads it."""

    id: int
    payer_customer_id: int | None  # a Kibeti customer who paid from their wallet
    payer: str  # else the masked phone, or ""
    gross_minor: int  # KES
    created_at: datetime
    settlement_id: int | None


@dataclass(frozen=True)
class SettlementSummary:
    id: int
    created_at: datetime
