"""Ledger enums and value objects shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.money import Money


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
