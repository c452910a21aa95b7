"""Named invoice errors (`code` is stable; `http_status` is what the merchant API answers)."""

from __future__ import annotations

from typing import ClassVar

from core.errors import KibetiError


class InvalidInvoice(KibetiError, ValueError):
    code = "invalid_invoice"
    http_status: ClassVar[int] = 422


class InvalidInvoiceAmount(KibetiError, ValueError):
    code = "invalid_amount"
    http_status: ClassVar[int] = 422


class UnsupportedCurrency(KibetiError, ValueError):
    code = "unsupported_currency"
    http_status: ClassVar[int] = 422


class UnsupportedPaymentMethod(KibetiError, ValueError):
    code = "unsupported_payment_method"
    http_status: ClassVar[int] = 422


class InvoiceLimitExceeded(KibetiError, ValueError):
    code = "amount_above_limit"
    http_status: ClassVar[int] = 422


class UnknownInvoice(KibetiError, LookupError):
    code = "invoice_not_found"
    http_status: ClassVar[int] = 404


class InvoiceNotPayable(KibetiError):
    """The invoice takes no new payment: settled, expired, invalid, or no such method."""

    code = "invoice_not_payable"
    http_status: ClassVar[int] = 409


class InvoiceRatesUnavailable(KibetiError):
    code = "rates_unavailable"
    http_status: ClassVar[int] = 503


class InvalidCursor(KibetiError, ValueError):
    code = "invalid_cursor"
    http_status: ClassVar[int] = 400
