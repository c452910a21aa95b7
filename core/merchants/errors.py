"""Named merchant errors."""

from __future__ import annotations

from core.errors import KibetiError


class UnknownMerchant(KibetiError, LookupError):
    code = "merchant_not_found"


class InvalidMerchant(KibetiError, ValueError):
    code = "invalid_merchant"
