"""Customer use cases the channels call (USSD, Telegram, web): one interface, `CustomerFlows`.

`core.flows.service.CoreFlows` is the implementation over the ledger, identity, quotes and
payments; every money operation takes an idempotency key derived by the channel.
"""

from __future__ import annotations

from core.flows.errors import ServiceUnavailable
from core.flows.types import (
    AccountStatus,
    BalanceLine,
    CustomerFlows,
    CustomerView,
    QuoteView,
    Receipt,
    Recipient,
    StatementLine,
)

__all__ = [
    "AccountStatus",
    "BalanceLine",
    "CustomerFlows",
    "CustomerView",
    "QuoteView",
    "Receipt",
    "Recipient",
    "ServiceUnavailable",
    "StatementLine",
]
