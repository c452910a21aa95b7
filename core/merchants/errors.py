"""Named merchant errors (`code` is stable; `http_status` is what the API answers)."""

from __future__ import annotations

from typing import ClassVar

from core.errors import KibetiError


class UnknownMerchant(KibetiError, LookupError):
    code = "merchant_not_found"
    http_status: ClassVar[int] = 404


class InvalidMerchant(KibetiError, ValueError):
    code = "invalid_merchant"
    http_status: ClassVar[int] = 422


class MerchantNotActive(KibetiError):
    code = "merchant_not_active"
    http_status: ClassVar[int] = 403


class MerchantStateConflict(KibetiError):
    """The move asked for does not apply to the merchant's current status (e.g. activate a suspended one)."""

    code = "merchant_state_conflict"
    http_status: ClassVar[int] = 409


class MerchantScreeningHeld(KibetiError):
    """The compliance screen of the business or a director did not come back clear: staff review first."""

    code = "merchant_screening_held"
    http_status: ClassVar[int] = 409


class TillCodeTaken(KibetiError, ValueError):
    code = "till_code_taken"
    http_status: ClassVar[int] = 409
