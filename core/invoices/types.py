"""Invoice and payment statuses, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

import enum

OWNER_TYPE = "invoice"  # deposit addresses and ledger accounts of an invoice carry this owner type


class InvoiceStatus(enum.StrEnum):
    NEW = "new"
    PROCESSING = "processing"  # paid in full, not all confirmed yet
    SETTLED = "settled"
    EXPIRED = "expired"
    INVALID = "invalid"


class AdditionalStatus(enum.StrEnum):
    NONE = "none"
    PAID_PARTIAL = "paid_partial"
    PAID_OVER = "paid_over"
    PAID_LATE = "paid_late"


class PaymentStatus(enum.StrEnum):
    SEEN = "seen"  # on chain, fewer confirmations than needed (or M-Pesa: never; it is confirmed)
    CONFIRMED = "confirmed"  # booked to the invoice's account in the ledger
    ORPHANED = "orphaned"  # its block left the chain before it was confirmed
    FLAGGED = "flagged"  # another asset or token on the invoice's address: recorded, never credited


class PaymentSource(enum.StrEnum):
    CHAIN = "chain"
    MPESA = "mpesa"
    PESAPAL = "pesapal"  # card or Airtel Money on PesaPal's hosted page (core.rails.invoices)
