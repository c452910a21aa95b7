"""Named quote errors, flat; channels translate by `code`."""

from __future__ import annotations

from core.errors import InvalidAmount, KibetiError


class QuoteExpired(KibetiError):
    code = "quote_expired"


class QuoteAlreadyUsed(KibetiError):
    code = "quote_already_used"


class QuoteNotFound(KibetiError):
    code = "quote_not_found"


class UnsupportedQuote(KibetiError, ValueError):
    """An unknown pair or a combination the service does not quote (e.g. buy KES with KES)."""

    code = "unsupported_quote"


class AmountTooSmall(InvalidAmount):
    """Below the M-Pesa minimum, below one minor unit after fees, or eaten entirely by fees."""

    code = "amount_too_small"


class AmountTooLarge(InvalidAmount):
    code = "amount_too_large"
