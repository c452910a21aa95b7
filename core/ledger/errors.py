"""Ledger errors, flat. Each names what happened; channels translate by `code`."""

from __future__ import annotations

from core.errors import KibetiError


class LedgerError(KibetiError):
    code = "ledger_error"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class UnbalancedEntry(LedgerError):
    code = "unbalanced_entry"


class InvalidPosting(LedgerError):
    code = "invalid_posting"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class AccountClosed(LedgerError):
    code = "account_closed"


class IdempotencyConflict(LedgerError):
    """The same idempotency key was used before with different content."""

    code = "idempotency_conflict"


class UnknownHold(LedgerError):
    code = "unknown_hold"


class HoldAlreadyResolved(LedgerError):
    code = "hold_already_resolved"


class HoldExpired(LedgerError):
    code = "hold_expired"
