"""Payments errors, flat."""

from __future__ import annotations

from core.errors import KibetiError


class PaymentError(KibetiError):
    code = "payment_error"


class PayoutAmountOutOfRange(PaymentError):
    code = "payout_amount_out_of_range"


class PayoutDailyLimit(PaymentError):
    code = "payout_daily_limit"


class CollectionAmountOutOfRange(PaymentError):
    code = "collection_amount_out_of_range"


class PaymentConflict(PaymentError):
    """The same idempotency key was used before with different content."""

    code = "payment_idempotency_conflict"


class UnknownPayout(PaymentError):
    code = "unknown_payout"


class UnknownCollection(PaymentError):
    code = "unknown_collection"


class PayoutNotRetryable(PaymentError):
    """Only a failed customer M-Pesa payout (B2C) is retried by staff; settlements have their own desk."""

    code = "payout_not_retryable"
    http_status = 409


class PayoutRetryNotFound(PaymentError):
    code = "payout_retry_not_found"
    http_status = 404


class PayoutRetryNotPending(PaymentError):
    code = "payout_retry_not_pending"
    http_status = 409


class PayoutRetrySamePerson(PaymentError):
    code = "payout_retry_same_person"
    http_status = 409
