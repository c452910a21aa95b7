"""M-Pesa enums and status sets shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class PayoutStatus(StrEnum):
    CREATED = "created"  # hold placed, job staged
    SUBMITTED = "submitted"  # a worker claimed it and is calling Daraja
    ACCEPTED = "accepted"  # Daraja accepted (ConversationID); waiting for the result
    SUCCEEDED = "succeeded"  # paid; hold posted
    FAILED = "failed"  # not paid; hold voided
    UNKNOWN = "unknown"  # timeout, crash or duplicate: a Transaction Status query decides


FINAL_PAYOUT = frozenset({PayoutStatus.SUCCEEDED.value, PayoutStatus.FAILED.value})
IN_FLIGHT_PAYOUT = frozenset(
    {PayoutStatus.SUBMITTED.value, PayoutStatus.ACCEPTED.value, PayoutStatus.UNKNOWN.value}
)


class CollectionStatus(StrEnum):
    CREATED = "created"
    REQUESTING = "requesting"  # a worker is calling Daraja
    REQUESTED = "requested"  # CheckoutRequestID known; waiting for the customer
    CONFIRMING = "confirming"  # a callback came; our STK Query has not confirmed it yet (pending)
    SUCCEEDED = "succeeded"  # credited
    FAILED = "failed"
    FLAGGED = "flagged"  # paid, but the callback disagrees with the request: staff decide


FINAL_COLLECTION = frozenset(
    {CollectionStatus.SUCCEEDED.value, CollectionStatus.FAILED.value, CollectionStatus.FLAGGED.value}
)


class C2BStatus(StrEnum):
    PENDING = "pending"  # a confirmation arrived; our Transaction Status query has not confirmed it
    CREDITED = "credited"  # confirmed by Daraja; booked to the customer's wallet
    SUSPENSE = "suspense"  # confirmed by Daraja, but no wallet to credit: held in suspense for staff
    NOT_FOUND = "not_found"  # Daraja does not know it (a forged or mistaken confirmation): nothing booked


class PayoutRetryStatus(StrEnum):
    PENDING = "pending"  # proposed by one staff member
    APPROVED = "approved"  # a second one approved: the retry payout exists
    REJECTED = "rejected"
